"""Steps of workflow/rules/retrieval.smk: bilingual sentence retrieval (paper §5, App. E) for models with
`retrieval: true`: aligned sentences → per-layer representations of the base model (one .npz per language) →
retrieval measures against English → %EMT change vs retrieval (Figure 4; 13–15 for other models).

A module serves several rules, and every job imports it: libraries a light rule does not need (torch,
transformers, matplotlib: 5-15 s per job) are imported inside the steps that use them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .. import XdetoxError
from ..data.parallel import load_files
from ..io import atomic_path, read_json, read_jsonl, write_csv, write_json, write_jsonl
from ..retrieval import measures

log = logging.getLogger("xdetox")


def save_representations(path: str | Path, hidden: np.ndarray, n_tokens: np.ndarray, meta: dict) -> None:
    """An .npz with `hidden` float32 [n_layers+1, n, d], `n_tokens` [n] and `meta` (a JSON string)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, hidden=hidden.astype(np.float32), n_tokens=n_tokens, meta=np.asarray(json.dumps(meta)))


def load_representations(path: str | Path) -> tuple[np.ndarray, dict]:
    path = Path(path)
    if not path.exists():
        raise XdetoxError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            hidden = data["hidden"]
            meta = json.loads(str(data["meta"]))
    except (KeyError, ValueError, OSError) as err:
        raise XdetoxError(f"{path}: not a representations file ({err})") from None
    if hidden.ndim != 3:
        raise XdetoxError(f"{path}: expected [layers, sentences, d_model], got shape {hidden.shape}")
    return hidden, meta


def retrieval_sentences(dataset: str, langs: Sequence[str], sources: Sequence[str], outs: Sequence[str],
                        max_sentences: int | None) -> int:
    """Aligned sentences of every language, checked together, one {id, lang, text} file per language."""
    if not len(langs) == len(sources) == len(outs):
        raise XdetoxError(f"{len(langs)} languages, {len(sources)} source files and {len(outs)} output files")
    sentences = load_files(dataset, dict(zip(langs, sources)), max_sentences)
    for lang, out in zip(langs, outs):
        write_jsonl(out, ({"id": i, "lang": lang, "text": t} for i, t in enumerate(sentences[lang])))
    n = len(next(iter(sentences.values())))
    log.info("%s: %d aligned sentences in each of %d languages", dataset, n, len(langs))
    return n


def retrieval_representations(model_dir: str, sentences: Mapping[str, str], outs: Mapping[str, str],
                              encoding: Mapping, dtype: str, threads: int | None = None,
                              meta: Mapping | None = None) -> dict[str, tuple]:
    """One pass per language with the model loaded once; one .npz per language.

    `encoding`: the retrieval section's batch_size, max_length and add_special_tokens.
    """
    from ..retrieval.representations import representations

    if set(sentences) != set(outs):
        raise XdetoxError(f"sentence files for {sorted(sentences)} but outputs for {sorted(outs)}")
    texts = {lang: [r["text"] for r in read_jsonl(path, ("id", "text"))] for lang, path in sentences.items()}
    reps = representations(model_dir, texts, encoding["batch_size"], encoding["max_length"],
                           encoding["add_special_tokens"], dtype=dtype, threads=threads)
    shapes = {}
    for lang, (hidden, n_tokens) in reps.items():
        save_representations(outs[lang], hidden, n_tokens, {**(meta or {}), "lang": lang, "model_dir": str(model_dir),
                                                             "sentences": str(sentences[lang]),
                                                             "shape": list(hidden.shape)})
        shapes[lang] = hidden.shape
    return shapes


def retrieval_measures(rep_paths: Mapping[str, str], csv_out: str, json_out: str, png_out: str, title: str,
                       extra: Mapping | None = None) -> dict:
    """Top-1 retrieval accuracy (en→x, x→en) and mean paired cosine per layer and averaged, per language."""
    from ..report.retrieval import layer_figure

    reps = {lang: load_representations(path)[0] for lang, path in rep_paths.items()}
    rows, summary = measures.retrieval_measures(reps)
    write_csv(csv_out, rows, ["lang", "layer", *measures.MEASURES], lineterminator="\n")
    write_json(json_out, {**(extra or {}), "pivot": "en", "languages": summary})
    layer_figure(summary, png_out, title)
    for lang, s in summary.items():
        log.info("%s: acc en->x %.3f, x->en %.3f, paired cosine %.3f", lang, s["acc_en2x_avg"], s["acc_x2en_avg"],
                 s["paired_cosine_avg"])
    return summary


def retrieval_figure4(measures_path: str, base_paths: Mapping[str, str], dpo_paths: Mapping[str, str], csv_out: str,
                      json_out: str, png_out: str, measure: str, title: str, extra: Mapping | None = None) -> dict:
    """%EMT change after English DPO vs retrieval over the non-English languages: Pearson, Spearman, Figure 4."""
    from ..report.retrieval import figure4, figure4_caption
    from ..retrieval.predictor import predictor

    summary = read_json(measures_path)["languages"]
    base = {lang: read_json(p) for lang, p in base_paths.items()}
    dpo = {lang: read_json(p) for lang, p in dpo_paths.items()}
    result = predictor(summary, base, dpo, measure)
    columns = ["lang", "emt_base", "emt_dpo", "emt_change", *(f"{m}_avg" for m in measures.MEASURES), "used", "note"]
    write_csv(csv_out, ({k: ("" if row[k] is None else row[k]) for k in columns} for row in result["rows"]), columns,
              lineterminator="\n")
    write_json(json_out, {**(extra or {}), **result})
    figure4(result, png_out, title)
    log.info("retrieval (%s) vs %%EMT change: %s", measure, "; ".join(figure4_caption(result)))
    return result
