"""Exact nucleus (top-p) sampling with a per-sequence random stream, fast on large vocabularies.

The kept set is the one of transformers' TopPLogitsWarper (and vLLM): tokens sorted by probability are kept while
the probability mass *before* them is below top_p (at least one token). Sorting a 262k-entry vocabulary for every
sequence and step dominates CPU sampling, so the nucleus is found among the top-k tokens and the full sort is done
only for the rare rows whose top-k mass stays below top_p. That shortcut is exact: when the top-k mass reaches
top_p, every token outside the top k has at least top_p mass before it and is dropped anyway.
"""

from __future__ import annotations

import torch

SHORTLIST = 1024


def nucleus_sets(logits: torch.Tensor, temperature: float, top_p: float, shortlist: int = SHORTLIST):
    """For each row: (token ids, probabilities renormalised over the nucleus), as padded tensors.

    Returns `ids` [B, K] and `probs` [B, K] with zeros beyond each row's nucleus; K ≤ vocabulary size.
    """
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    k = min(shortlist, probs.shape[-1])
    top_probs, top_ids = torch.topk(probs, k, dim=-1, sorted=True)
    short = top_probs.sum(-1) >= top_p
    if not bool(short.all()):
        full_probs, full_ids = torch.sort(probs[~short], dim=-1, descending=True)
        width = full_probs.shape[-1]
        pad = width - k
        top_probs = torch.nn.functional.pad(top_probs, (0, pad))
        top_ids = torch.nn.functional.pad(top_ids, (0, pad))
        top_probs[~short] = full_probs
        top_ids[~short] = full_ids
    before = torch.cumsum(top_probs, dim=-1) - top_probs
    keep = before < top_p
    keep[:, 0] = True
    kept = torch.where(keep, top_probs, torch.zeros_like(top_probs))
    kept = kept / kept.sum(-1, keepdim=True)
    return top_ids, kept


def draw(ids: torch.Tensor, probs: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """Inverse-CDF draw of one token per row, row i using its own generator (so results do not depend on batching)."""
    u = torch.stack([torch.rand((), generator=g, dtype=torch.float64) for g in generators]).to(probs.device)
    cdf = torch.cumsum(probs.double(), dim=-1)
    cdf[:, -1] = 1.0 + 1e-12  # guards the last bin against rounding
    pos = torch.searchsorted(cdf, u.unsqueeze(-1)).clamp_max(probs.shape[-1] - 1)
    # never land on a zero-probability padding bin
    pos = torch.minimum(pos, (probs > 0).sum(-1, keepdim=True) - 1)
    return ids.gather(-1, pos).squeeze(-1)
