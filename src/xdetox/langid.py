"""Language identification of continuations, offline (py3langid ships its model): is a "detoxified" continuation
still in the prompt's language, or did the model switch (typically to English)?

Each generation record gets `detected_lang` (an ISO 639 code, or null when the continuation has no letters to judge,
e.g. empty, digits or punctuation) and `lang_confidence` (py3langid's normalised probability). Continuations are
short (≤ 20 tokens), so single records are noisy; the per-language shares over hundreds of records are what to read.
Close languages the identifier confuses are counted as the prompt's language (SAME_LANGUAGE): Malay for Indonesian,
Arabic dialects for Arabic, Wu/Cantonese for Chinese. Japanese written only in kanji can be reported as Chinese.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from functools import lru_cache
from typing import Iterable

from .languages import LANGID_CODE, short_label

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


def annotate(records: list[dict]) -> list[dict]:
    """Add detected_lang and lang_confidence to generation records (in place; returns them)."""
    for record in records:
        record["detected_lang"], record["lang_confidence"] = detect(record["text"])
    return records


def summarize(records: Iterable[dict], prompt_lang: str) -> dict:
    """Shares among continuations of one (model, stage, language): in the prompt's language, English, other."""
    n = n_und = n_same = n_en = 0
    others: Counter = Counter()
    confidences = []
    for r in records:
        n += 1
        detected = r["detected_lang"] if "detected_lang" in r else detect(r["text"])[0]
        if detected is None:
            n_und += 1
            continue
        if r.get("lang_confidence") is not None:
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


def langid_rows(model: str, generations: dict[tuple[str, str], Iterable[dict]]) -> list[dict]:
    """One row per (stage, language) from {(stage, lang): records}, in the given order."""
    return [{"model": model, "stage": stage, "lang": lang, **summarize(records, lang)}
            for (stage, lang), records in generations.items()]


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.0f}%"


def rows_to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def rows_to_markdown(rows: list[dict], label: str) -> str:
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    langs = list(dict.fromkeys(r["lang"] for r in rows))
    by = {(r["stage"], r["lang"]): r for r in rows}
    head = ["Lang"] + [f"{s}: in prompt lang" for s in stages] + [f"{s}: English" for s in stages]
    lines = [
        f"Language of continuations — {label}: share of continuations identified (py3langid) as the prompt's "
        "language, and as English. A drop in the first with a rise in the second after DPO means the model switched "
        "to English rather than detoxified in the language.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for lang in langs:
        cells = [short_label(lang)]
        cells += [_pct(by[(s, lang)]["share_same"]) if (s, lang) in by else "–" for s in stages]
        cells += [_pct(by[(s, lang)]["share_en"]) if (s, lang) in by else "–" for s in stages]
        lines.append("| " + " | ".join(cells) + " |")
    for s in stages:
        judged = [r for r in rows if r["stage"] == s and r["share_same"] == r["share_same"]]
        if judged:
            mean = sum(r["share_same"] for r in judged) / len(judged)
            lines.append(f"\nMean share in the prompt's language, {s}: {_pct(mean)}.")
    lines.append(
        "\nShares are over continuations with letters (the rest are 'undetermined', see the CSV). Counted as the "
        "prompt's language: Malay for Indonesian, Arabic dialects for Arabic, Wu/Cantonese for Chinese. Continuations "
        "are ≤ 20 tokens: the identifier is noisy on single records, and kanji-only Japanese can read as Chinese."
    )
    return "\n".join(lines) + "\n"


def langid_figure(rows: list[dict], label: str, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    stages = list(dict.fromkeys(r["stage"] for r in rows))
    langs = list(dict.fromkeys(r["lang"] for r in rows))
    by = {(r["stage"], r["lang"]): r for r in rows}
    x = np.arange(len(langs))
    width = 0.8 / max(1, len(stages))
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(langs) + 2), 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, stage in enumerate(stages):
        same = np.array([by.get((stage, l), {}).get("share_same", np.nan) for l in langs], dtype=float)
        english = np.array([0.0 if l == "en" else by.get((stage, l), {}).get("share_en", np.nan) for l in langs],
                           dtype=float)
        pos = x - 0.4 + width * (i + 0.5)
        color = colors[i % len(colors)]
        ax.bar(pos, same, width, color=color, label=f"{stage}: prompt's language")
        ax.bar(pos, english, width, bottom=same, color="white", edgecolor=color, hatch="///",
               label=f"{stage}: English")
    ax.set_xticks(x, [short_label(l) for l in langs])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of continuations")
    ax.set_title(f"Language of continuations — {label}")
    ax.legend(fontsize=7, ncol=max(1, len(stages)), loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
