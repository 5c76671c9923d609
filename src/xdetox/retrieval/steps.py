"""The retrieval branch's workflow steps (files in, files out); `workflow/scripts/retrieval_*.py` call these."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import XdetoxError
from ..io import read_json, read_jsonl, write_json, write_jsonl

log = logging.getLogger("xdetox")


def sentences_step(dataset: str, langs: list[str], sources: list[str], outs: list[str], max_sentences: int | None) -> int:
    """Aligned sentences of every language, checked together, one {id, lang, text} file per language."""
    from .parallel import load_files

    if not len(langs) == len(sources) == len(outs):
        raise XdetoxError(f"{len(langs)} languages, {len(sources)} source files and {len(outs)} output files")
    sentences = load_files(dataset, dict(zip(langs, sources)), max_sentences)
    for lang, out in zip(langs, outs):
        write_jsonl(out, ({"id": i, "lang": lang, "text": t} for i, t in enumerate(sentences[lang])))
    n = len(next(iter(sentences.values())))
    log.info("%s: %d aligned sentences in each of %d languages", dataset, n, len(langs))
    return n


def representations_step(model_dir: str, sentences: dict[str, str], outs: dict[str, str], retrieval: dict,
                         dtype: str = "float32", threads: int | None = None, meta: dict | None = None) -> dict[str, tuple]:
    """One pass per language with the model loaded once; one .npz per language."""
    from .representations import representations, save_representations

    if set(sentences) != set(outs):
        raise XdetoxError(f"sentence files for {sorted(sentences)} but outputs for {sorted(outs)}")
    texts = {lang: [r["text"] for r in read_jsonl(path, ("id", "text"))] for lang, path in sentences.items()}
    reps = representations(model_dir, texts, batch_size=retrieval["batch_size"], max_length=retrieval["max_length"],
                           add_special_tokens=retrieval["add_special_tokens"], dtype=dtype, threads=threads)
    shapes = {}
    for lang, (hidden, n_tokens) in reps.items():
        save_representations(outs[lang], hidden, n_tokens, {**(meta or {}), "lang": lang, "model_dir": str(model_dir),
                                                             "sentences": str(sentences[lang]), "shape": list(hidden.shape)})
        shapes[lang] = hidden.shape
    return shapes


def measures_step(rep_paths: dict[str, str], csv_out: str, json_out: str, png_out: str, title: str,
                  extra: dict | None = None) -> dict:
    import csv

    from ..io import atomic_open
    from .measures import MEASURES, layer_figure, retrieval_measures
    from .representations import load_representations

    reps = {lang: load_representations(path)[0] for lang, path in rep_paths.items()}
    rows, summary = retrieval_measures(reps)
    with atomic_open(csv_out) as handle:
        writer = csv.DictWriter(handle, fieldnames=["lang", "layer", *MEASURES], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_json(json_out, {**(extra or {}), "pivot": "en", "languages": summary})
    layer_figure(summary, png_out, title)
    for lang, s in summary.items():
        log.info("%s: acc en->x %.3f, x->en %.3f, paired cosine %.3f", lang, s["acc_en2x_avg"], s["acc_x2en_avg"],
                 s["paired_cosine_avg"])
    return summary


def predictor_step(measures_path: str, base_paths: dict[str, str], dpo_paths: dict[str, str], csv_out: str,
                   json_out: str, png_out: str, measure: str, title: str, extra: dict | None = None) -> dict:
    from .predictor import figure4, predictor, write_outputs

    summary = read_json(measures_path)["languages"]
    base = {lang: read_json(p) for lang, p in base_paths.items()}
    dpo = {lang: read_json(p) for lang, p in dpo_paths.items()}
    result = predictor(summary, base, dpo, measure)
    write_outputs(result, csv_out, json_out, extra)
    figure4(result, png_out, title)
    c = result["correlation"]
    log.info("%s vs %%EMT change over %d languages: Pearson r=%s p=%s, Spearman rho=%s p=%s", result["selected"], c["n"],
             c["pearson_r"], c["pearson_p"], c["spearman_rho"], c["spearman_p"])
    return result
