"""Steps of workflow/rules/interpret.smk: the interpretability branch (paper §4) for models with `interpret: true`.

probe → value vectors (potential and actual sources of toxicity) → projections (Tables 4, 8, 9), intervention
(Table 5, Figure 2), activations before and after DPO (Figure 3). `model` is the rule's slice of the model's config:
{dtype (interpret.dtype resolved), family, label}.
"""

from __future__ import annotations

import csv
import gc
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .. import models
from ..data.probe import load_probe_rows
from ..interp.activations import figure3_rows, language_activations
from ..interp.adapters import caption_note, make_adapter
from ..interp.intervention import figure2_sweep, table5, table5_neurons
from ..interp.probe import ProbeResult, pooled_features, train_probe
from ..interp.projections import projection_rows
from ..interp.value_vectors import rank_value_vectors, select_sources, selected_neurons, selected_rows
from ..io import atomic_path, read_jsonl, write_csv, write_json, write_jsonl
from ..report import interpret as report
from ..scoring.registry import open_cached_scorer

log = logging.getLogger("xdetox.interp")

VALUE_VECTOR_FIELDS = ["layer", "neuron", "cosine", "rank", "mean_activation", "selected"]


def _load(model_dir: str, model: Mapping[str, Any], threads: int | None):
    """(model, tokenizer, adapter) of a checkpoint for hooks on its MLP neurons."""
    lm = models.load_model(model_dir, dtype=model["dtype"], threads=threads)
    return lm, models.load_tokenizer(model_dir), make_adapter(lm, model["family"])


def write_value_vectors(path: str | Path, rows: list[dict]) -> None:
    write_csv(path, ({**r, "selected": int(r["selected"])} for r in rows), VALUE_VECTOR_FIELDS)


def read_value_vectors(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            {"layer": int(r["layer"]), "neuron": int(r["neuron"]), "cosine": float(r["cosine"]), "rank": int(r["rank"]),
             "mean_activation": float(r["mean_activation"]), "selected": r["selected"] in ("1", "True", "true")}
            for r in csv.DictReader(handle)
        ]


def prompt_texts(path: str | Path, max_prompts: int | None) -> list[str]:
    """The first `max_prompts` prompt texts of a prompts file (all when None)."""
    texts = [r["text"] for r in read_jsonl(path, ("text",))]
    return texts[:max_prompts] if max_prompts is not None else texts


def load_probe(path: str | Path) -> torch.Tensor:
    return torch.load(path, map_location="cpu")["weight"].float()


def interp_probe(model_dir: str, data_path: str, probe_out: str, metrics_out: str, history_out: str, probe: dict,
                 model: Mapping[str, Any], threads: int | None = None) -> dict:
    """Train the probe on the base model's pooled features; save its weight, metrics and per-epoch history."""
    rows = load_probe_rows(data_path, probe["source"], probe["max_rows"], probe["seed"])
    log.info("probe data: %d rows (%d toxic) from %s", len(rows), sum(l for _, l in rows), data_path)
    lm = models.load_model(model_dir, dtype=model["dtype"], threads=threads)
    tokenizer = models.load_tokenizer(model_dir)
    t0 = time.perf_counter()
    feats = pooled_features(lm, tokenizer, [t for t, _ in rows], probe["max_tokens"], probe["feature_batch_size"])
    t_feat = time.perf_counter() - t0
    result = train_probe(feats, [l for _, l in rows], probe["learning_rate"], probe["batch_size"], probe["epochs"],
                         probe["val_fraction"], probe["seed"], probe["init"])
    metrics = _save_probe(result, probe_out, metrics_out, history_out, {
        "data": str(data_path), "n_rows": len(rows), "max_tokens": probe["max_tokens"],
        "feature_seconds": round(t_feat, 1), "train_seconds": round(time.perf_counter() - t0 - t_feat, 1),
    })
    log.info("probe: best epoch %d, validation accuracy %.3f, ROC-AUC %.3f", result.best_epoch,
             result.val_accuracy, result.val_auc)
    return metrics


def _save_probe(result: ProbeResult, probe_out: str, metrics_out: str, history_out: str, extra: dict) -> dict:
    with atomic_path(probe_out) as tmp:
        torch.save({"weight": result.weight, "best_epoch": result.best_epoch}, tmp)
    metrics = {
        "best_epoch": result.best_epoch,
        "val_loss": result.val_loss,
        "val_accuracy": result.val_accuracy,
        "val_auc": result.val_auc,
        "train_accuracy": result.train_accuracy,
        "n_train": result.n_train,
        "n_val": result.n_val,
        "d_model": int(result.weight.shape[0]),
        **extra,
    }
    write_json(metrics_out, metrics)
    write_csv(history_out, result.history, list(result.history[0]))
    return metrics


def interp_value_vectors(model_dir: str, probe_path: str, prompts_path: str, out: str, interpret: dict,
                         model: Mapping[str, Any], threads: int | None = None) -> list[dict]:
    """Top-k value vectors by cosine with the probe; the actual sources have a positive mean activation on English
    prompts over `n_tokens` greedy steps."""
    lm, tokenizer, adapter = _load(model_dir, model, threads)
    candidates = rank_value_vectors(adapter, load_probe(probe_path), interpret["top_k"])
    texts = prompt_texts(prompts_path, interpret["max_prompts"])
    rows = select_sources(lm, tokenizer, adapter, candidates, texts, interpret["n_tokens"], interpret["batch_size"],
                          prepend_bos=interpret["prepend_bos"])
    write_value_vectors(out, rows)
    n_sel = sum(r["selected"] for r in rows)
    log.info("%d of the top %d value vectors have a positive mean activation on %d English prompts",
             n_sel, len(rows), len(texts))
    if n_sel == 0:
        log.warning("no actual source of toxicity: the intervention and activation steps have no neurons to use")
    return rows


def interp_projections(model_dir: str, value_vectors_csv: str, csv_out: str, table4_out: str, tables89_out: str,
                       interpret: dict, model: Mapping[str, Any], threads: int | None = None) -> list[dict]:
    """The top promoted tokens of every actual source (Tables 4, 8, 9 analogues)."""
    lm, tokenizer, adapter = _load(model_dir, model, threads)
    rows = read_value_vectors(value_vectors_csv)
    k = interpret["projection_tokens"]
    proj = projection_rows(adapter, tokenizer, rows, k)
    n_sel = len(selected_rows(rows))
    report.projection_tables(proj, n_sel, len(rows), k, interpret["table4_vectors"], model["label"],
                             caption_note(adapter), csv_out, table4_out, tables89_out)
    log.info("projected %d value vectors onto the vocabulary", n_sel)
    return proj


def interp_table5(model_dir: str, value_vectors_csv: str, csv_out: str, md_out: str, interpret: dict,
                  model: Mapping[str, Any], threads: int | None = None) -> list[dict]:
    """Greedy continuations with γ = 0 and γ = table5.offset on a few actual sources (Table 5 analogue)."""
    lm, tokenizer, adapter = _load(model_dir, model, threads)
    t5 = interpret["table5"]
    neurons = adapter.check(table5_neurons(read_value_vectors(value_vectors_csv), t5))
    offsets = [0, t5["offset"]]
    rows = table5(lm, tokenizer, adapter, t5["prompts"], neurons, offsets, t5["max_new_tokens"],
                  prepend_bos=interpret["prepend_bos"])
    report.table5(rows, neurons, offsets, model["label"], caption_note(adapter), csv_out, md_out)
    return rows


def interp_figure2(model_dir: str, value_vectors_csv: str, prompt_paths: Mapping[str, str], csv_out: str,
                   png_out: str, generations_out: str, interpret: dict, scorer: str, scorer_settings: dict,
                   score_cache: str, model: Mapping[str, Any], threads: int | None = None) -> list[dict]:
    """Average toxicity per language under a sweep of negative offsets on all actual sources (Figure 2 analogue),
    scored with `scorer` (its own config section and the score cache)."""
    lm, tokenizer, adapter = _load(model_dir, model, threads)
    neurons = selected_neurons(read_value_vectors(value_vectors_csv))
    prompts = {lang: prompt_texts(path, interpret["figures_max_prompts"]) for lang, path in prompt_paths.items()}
    cached = open_cached_scorer(scorer, scorer_settings, score_cache)
    try:
        rows, generations = figure2_sweep(lm, tokenizer, adapter, prompts, neurons, interpret["figure2"]["offsets"],
                                          cached, interpret["n_tokens"], interpret["batch_size"],
                                          prepend_bos=interpret["prepend_bos"])
    finally:
        cached.close()
    write_jsonl(generations_out, generations)
    n_prompts = max(len(p) for p in prompts.values())
    who = f"{model['label']}: " if model["label"] else ""
    title = (f"{who}offset on all {len(neurons)} actual sources of toxicity; greedy, {interpret['n_tokens']} tokens, "
             f"≤{n_prompts} prompts/lang; scorer: {scorer}")
    report.figure2(rows, csv_out, png_out, title, caption_note(adapter))
    return rows


def interp_figure3(base_dir: str, dpo_dir: str, value_vectors_csv: str, prompt_paths: Mapping[str, str],
                   csv_out: str, neurons_csv_out: str, png_out: str, interpret: dict, model: Mapping[str, Any],
                   threads: int | None = None) -> list[dict]:
    """Mean activation of the actual sources per language, base vs DPO model (Figure 3 analogue): each model
    greedy-decodes its own `n_tokens` tokens."""
    neurons = selected_neurons(read_value_vectors(value_vectors_csv))
    prompts = {lang: prompt_texts(path, interpret["figures_max_prompts"]) for lang, path in prompt_paths.items()}
    per_model, note = {}, ""
    for stage, path in (("pre_dpo", base_dir), ("post_dpo", dpo_dir)):
        lm, tokenizer, adapter = _load(path, model, threads)
        note = caption_note(adapter)
        per_model[stage] = language_activations(lm, tokenizer, adapter, prompts, neurons, interpret["n_tokens"],
                                                interpret["batch_size"], prepend_bos=interpret["prepend_bos"])
        del lm, tokenizer, adapter  # one model in memory at a time
        gc.collect()
    rows, neuron_rows = figure3_rows(per_model, neurons, {lang: len(p) for lang, p in prompts.items()})
    who = f"{model['label']}: " if model["label"] else ""
    n_prompts = max(len(p) for p in prompts.values())
    report.figure3(rows, neuron_rows, csv_out, neurons_csv_out, png_out,
                   f"{who}mean activation of the {len(neurons)} actual sources of toxicity over the next "
                   f"{interpret['n_tokens']} greedy tokens (≤{n_prompts} prompts/lang)", note)
    mean = [np.nanmean([r[k] for r in rows]) for k in ("pre_dpo", "post_dpo")]
    log.info("mean over languages: pre-DPO %.4f, post-DPO %.4f", *mean)
    return rows
