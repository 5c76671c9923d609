"""Potential and actual sources of toxicity (paper §4.2–4.3; reference: xg/interp.py, scripts/run_collect_neuron_activations.py).

1. Potential sources: every value vector (all layers × d_mlp) ranked by cosine similarity with w_toxic; the top k
   (paper: 100) are kept.
2. Actual sources: the mean activation of each of those neurons at the last position over the next `n_tokens`
   (paper: 20) **greedy** tokens of English prompts (mean over prompts × steps); the neurons with a positive mean
   are selected (paper: 36 of 100 for mGPT).

The workflow's value_vectors.csv has one row per potential source: layer, neuron, cosine, rank (1 = most similar),
mean_activation, selected.
"""

from __future__ import annotations

import logging
from typing import Sequence

import torch
import torch.nn.functional as F

from .. import XdetoxError
from .adapters import MLPAdapter, Neuron
from .greedy import greedy_generate

log = logging.getLogger("xdetox.interp")

FIELDS = ["layer", "neuron", "cosine", "rank", "mean_activation", "selected"]


def rank_value_vectors(adapter: MLPAdapter, probe_weight: torch.Tensor, top_k: int) -> list[dict]:
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
                     n_tokens: int, batch_size: int, *, prepend_bos: bool) -> torch.Tensor:
    """[n_neurons]: each neuron's activation at the last position, averaged over prompts × greedy steps."""
    if not texts:
        raise XdetoxError("no prompts to collect activations on")
    result = greedy_generate(model, tokenizer, texts, n_tokens, batch_size, adapter, neurons, prepend_bos=prepend_bos)
    return result.activations.mean(dim=(0, 1))


def select_sources(model, tokenizer, adapter: MLPAdapter, candidates: list[dict], texts: Sequence[str],
                   n_tokens: int, batch_size: int, *, prepend_bos: bool) -> list[dict]:
    """Add mean_activation and selected (mean > 0) to each candidate row."""
    neurons = [(r["layer"], r["neuron"]) for r in candidates]
    means = mean_activations(model, tokenizer, adapter, texts, neurons, n_tokens, batch_size, prepend_bos=prepend_bos)
    return [{**r, "mean_activation": float(m), "selected": bool(m > 0)} for r, m in zip(candidates, means.tolist())]


def selected_rows(rows: list[dict]) -> list[dict]:
    """The actual sources, in cosine-rank order."""
    return sorted((r for r in rows if r["selected"]), key=lambda r: r["rank"])


def selected_neurons(rows: list[dict], limit: int | None = None) -> list[Neuron]:
    chosen = [(r["layer"], r["neuron"]) for r in selected_rows(rows)]
    return chosen[:limit] if limit is not None else chosen
