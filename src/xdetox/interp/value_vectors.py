"""Potential and actual sources of toxicity (paper §4.2–4.3; protocol §3 "Selecting toxic value vectors").

1. Potential sources: every value vector (all layers × d_mlp) ranked by cosine similarity with w_toxic; the top k
   (paper: 100) are kept.
2. Actual sources: the mean activation of each of those neurons at the last position over the next `n_tokens`
   (paper: 20) **greedy** tokens of English prompts (mean over prompts × steps); the neurons with a positive mean
   are selected (paper: 36 of 100 for mGPT).

Output CSV columns: layer, neuron, cosine, rank (1 = most similar), mean_activation, selected.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from .. import XdetoxError
from ..io import atomic_open, read_jsonl
from .adapters import MLPAdapter, Neuron, make_adapter
from .greedy import greedy_generate

log = logging.getLogger("xdetox.interp")

FIELDS = ["layer", "neuron", "cosine", "rank", "mean_activation", "selected"]


def rank_value_vectors(adapter: MLPAdapter, probe_weight: torch.Tensor, top_k: int = 100) -> list[dict]:
    """The top_k value vectors by cosine similarity with the probe direction, most similar first."""
    values = adapter.value_vectors().float()
    w = probe_weight.float().to(values.device).reshape(1, -1)
    if w.shape[1] != values.shape[1]:
        raise XdetoxError(f"probe has d_model {w.shape[1]} but the model's value vectors have {values.shape[1]}")
    cos = F.cosine_similarity(values, w, dim=-1)
    k = min(top_k, cos.numel())
    top = torch.topk(cos, k)
    rows = []
    for rank, (c, idx) in enumerate(zip(top.values.tolist(), top.indices.tolist()), start=1):
        layer, neuron = adapter.unflat(idx)
        rows.append({"layer": layer, "neuron": neuron, "cosine": c, "rank": rank})
    return rows


def mean_activations(model, tokenizer, adapter: MLPAdapter, texts: Sequence[str], neurons: Sequence[Neuron],
                     n_tokens: int = 20, batch_size: int = 16) -> torch.Tensor:
    """[n_neurons]: each neuron's activation at the last position, averaged over prompts × greedy steps."""
    if not texts:
        raise XdetoxError("no prompts to collect activations on")
    result = greedy_generate(model, tokenizer, texts, n_tokens, batch_size, adapter, neurons)
    return result.activations.mean(dim=(0, 1))


def select_sources(model, tokenizer, adapter: MLPAdapter, candidates: list[dict], texts: Sequence[str],
                   n_tokens: int = 20, batch_size: int = 16) -> list[dict]:
    """Add mean_activation and selected (mean > 0) to each candidate row."""
    neurons = [(r["layer"], r["neuron"]) for r in candidates]
    means = mean_activations(model, tokenizer, adapter, texts, neurons, n_tokens, batch_size)
    return [{**r, "mean_activation": float(m), "selected": bool(m > 0)} for r, m in zip(candidates, means.tolist())]


def write_value_vectors(path: str | Path, rows: list[dict]) -> None:
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "selected": int(r["selected"])})


def read_value_vectors(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            {"layer": int(r["layer"]), "neuron": int(r["neuron"]), "cosine": float(r["cosine"]), "rank": int(r["rank"]),
             "mean_activation": float(r["mean_activation"]), "selected": r["selected"] in ("1", "True", "true")}
            for r in csv.DictReader(handle)
        ]


def selected_rows(rows: list[dict]) -> list[dict]:
    """The actual sources, in cosine-rank order."""
    return sorted((r for r in rows if r["selected"]), key=lambda r: r["rank"])


def selected_neurons(rows: list[dict], limit: int | None = None) -> list[Neuron]:
    chosen = [(r["layer"], r["neuron"]) for r in selected_rows(rows)]
    return chosen[:limit] if limit is not None else chosen


def prompt_texts(path: str | Path, max_prompts: int | None = None) -> list[str]:
    texts = [r["text"] for r in read_jsonl(path, ("text",))]
    return texts[:max_prompts] if max_prompts is not None else texts


def load_for_interp(model_dir: str, dtype: str = "float32", family: str | None = None, threads: int | None = None):
    from ..generation.hf import load_model

    if threads:
        torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir, dtype)
    return model, tokenizer, make_adapter(model, family)


def value_vectors_step(model_dir: str, probe_path: str, prompts_path: str, out: str, interpret: dict,
                       dtype: str = "float32", family: str | None = None, threads: int | None = None) -> list[dict]:
    from .probe import load_probe

    model, tokenizer, adapter = load_for_interp(model_dir, dtype, family, threads)
    candidates = rank_value_vectors(adapter, load_probe(probe_path), interpret["top_k"])
    texts = prompt_texts(prompts_path, interpret.get("max_prompts"))
    rows = select_sources(model, tokenizer, adapter, candidates, texts, interpret["n_tokens"], interpret["batch_size"])
    write_value_vectors(out, rows)
    n_sel = sum(r["selected"] for r in rows)
    log.info("%d of the top %d value vectors have a positive mean activation on %d English prompts",
             n_sel, len(rows), len(texts))
    if n_sel == 0:
        log.warning("no actual source of toxicity: the intervention and activation steps have no neurons to use")
    return rows
