"""Language identification of continuations, offline (py3langid ships its model): is a "detoxified" continuation
still in the prompt's language, or did the model switch (typically to English)?

`identify` gives each continuation `detected_lang` (an ISO 639 code, or null when the continuation has no letters to
judge, e.g. empty, digits or punctuation) and `lang_confidence` (py3langid's normalised probability); the workflow's
`langid` rule writes these per (model, stage, language), beside the generation files rather than inside them, so the
generation cache never depends on this code. Continuations are
short (≤ 20 tokens), so single records are noisy; the per-language shares over hundreds of records are what to read.
Close languages the identifier confuses are counted as the prompt's language (SAME_LANGUAGE): Malay for Indonesian,
Arabic dialects for Arabic, Wu/Cantonese for Chinese. Japanese written only in kanji can be reported as Chinese.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Iterable

from .languages import LANGID_CODE

#: identifier labels counted as the prompt's language
SAME_LANGUAGE: dict[str, frozenset[str]] = {
    "ar": frozenset({"ar", "ary", "arz"}),
    "id": frozenset({"id", "ms"}),
    "zh-hans": frozenset({"zh", "wuu", "yue"}),
}
#: identifier labels meaning "no linguistic content"
UNDETERMINED = frozenset({"zxx", "und"})


def same_language(prompt_lang: str, detected: str | None) -> bool:
    if detected is None:
        return False
    return detected in SAME_LANGUAGE.get(prompt_lang, frozenset({LANGID_CODE.get(prompt_lang, prompt_lang)}))


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> tuple[str | None, float | None]:
    """(language code, confidence), or (None, None) when the text has no letters."""
    if not any(ch.isalpha() for ch in text):
        return None, None
    lang, confidence = _identifier().classify(text)
    if lang in UNDETERMINED:
        return None, None
    return lang, round(float(confidence), 4)


def identify(generations: Iterable[dict]) -> list[dict]:
    """One record per generation, same order: {prompt_id, sample, detected_lang, lang_confidence}."""
    out = []
    for g in generations:
        detected, confidence = detect(g["text"])
        out.append({"prompt_id": g["prompt_id"], "sample": g["sample"], "detected_lang": detected,
                    "lang_confidence": confidence})
    return out


def summarize(records: Iterable[dict], prompt_lang: str) -> dict:
    """Shares among continuations of one (model, stage, language): in the prompt's language, English, other."""
    n = n_und = n_same = n_en = 0
    others: Counter = Counter()
    confidences = []
    for r in records:
        n += 1
        detected = r["detected_lang"]
        if detected is None:
            n_und += 1
            continue
        if r["lang_confidence"] is not None:
            confidences.append(r["lang_confidence"])
        if same_language(prompt_lang, detected):
            n_same += 1
        else:
            others[detected] += 1
        if detected == "en":
            n_en += 1
    judged = n - n_und
    top_other, top_count = others.most_common(1)[0] if others else ("", 0)
    return {
        "n": n,
        "undetermined": n_und,
        "share_same": n_same / judged if judged else float("nan"),
        "share_en": n_en / judged if judged else float("nan"),
        "share_other": (judged - n_same - (0 if prompt_lang == "en" else n_en)) / judged if judged else float("nan"),
        "top_other": top_other,
        "top_other_share": top_count / judged if judged else float("nan"),
        "mean_confidence": sum(confidences) / len(confidences) if confidences else float("nan"),
    }


COLUMNS = ["model", "stage", "lang", "n", "undetermined", "share_same", "share_en", "share_other", "top_other",
           "top_other_share", "mean_confidence"]


def langid_rows(model: str, identified: dict[tuple[str, str], Iterable[dict]]) -> list[dict]:
    """One row per (stage, language) from {(stage, lang): identify() records}, in the given order."""
    return [{"model": model, "stage": stage, "lang": lang, **summarize(records, lang)}
            for (stage, lang), records in identified.items()]
