"""Exact nucleus (top-p) sampling with a per-sequence random stream, fast on large vocabularies.

The kept set is the one of transformers' TopPLogitsWarper (and vLLM): tokens sorted by probability are kept while
the probability mass *before* them is below top_p (at least one token), and the kept probabilities are renormalised.

Ties. Logits computed in bf16 take few distinct values, so several tokens often share the probability at the nucleus
boundary, and which of them is kept is then up to the sort (transformers leaves it to an unstable sort). Here the
order is canonical — logit descending, then token id ascending — so the distribution does not depend on the
implementation, the batch or the shortcut below; `nucleus_reference` is that definition written as a plain sort.

Speed. Sorting a 262k-entry vocabulary per sequence and step dominated CPU sampling. Rows are processed in small
blocks (their float32 logits and probabilities stay in cache), and the nucleus is looked for among the top `shortlist` tokens, found in two steps: the maxima of 32-token chunks of the
vocabulary, then the elements of the top `shortlist` chunks (every token of the top k lies in one of the top k
chunks). The shortlist is exact when (a) its mass reaches top_p and (b) its last token's logit is strictly below the
nucleus's last one (so no token tied with the boundary is left outside); otherwise that row is fully sorted.
"""

from __future__ import annotations

import torch

SHORTLIST = 1024
CHUNK = 32
#: rows per block on CPU (float32 copies of a block's logits stay in cache); the whole batch on GPU
CPU_BLOCK = 8

_ID_BITS = 31
_ID_MASK = (1 << _ID_BITS) - 1


def order_keys(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """int64 keys whose descending order is (x descending, token id ascending); x float32, ids < 2**31."""
    bits = x.contiguous().view(torch.int32)
    monotone = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # float32 order as signed int32 order
    return (monotone.to(torch.int64) << 32) + (_ID_MASK - ids.to(torch.int64))


def _ids_of(keys: torch.Tensor) -> torch.Tensor:
    return _ID_MASK - (keys & _ID_MASK)


def nucleus_reference(logits: torch.Tensor, temperature: float, top_p: float):
    """The definition, by a full stable sort: (ids, renormalised probabilities), zeros beyond each row's nucleus."""
    x = logits.float() / temperature
    probs = torch.softmax(x, dim=-1)
    order = torch.sort(x, dim=-1, descending=True, stable=True).indices
    p = probs.gather(-1, order)
    keep = (torch.cumsum(p, dim=-1) - p) < top_p
    keep[:, 0] = True
    kept = torch.where(keep, p, torch.zeros_like(p))
    return order, kept / kept.sum(-1, keepdim=True)


def nucleus_sets(logits: torch.Tensor, temperature: float, top_p: float, shortlist: int = SHORTLIST,
                 block: int | None = None):
    """For each row: (token ids, probabilities renormalised over the nucleus), as padded tensors.

    Returns `ids` [B, K] and `probs` [B, K] with zeros beyond each row's nucleus; K ≤ vocabulary size.
    """
    rows, vocab = logits.shape
    if block is None:
        block = rows if logits.device.type != "cpu" else CPU_BLOCK
    parts = [_nucleus_block(logits[s : s + block], temperature, top_p, shortlist) for s in range(0, rows, block)]
    if len(parts) == 1:
        return parts[0]
    width = max(ids.shape[1] for ids, _ in parts)
    pad = torch.nn.functional.pad
    ids = torch.cat([pad(i, (0, width - i.shape[1])) for i, _ in parts])
    probs = torch.cat([pad(p, (0, width - p.shape[1])) for _, p in parts])
    return ids, probs


def _nucleus_block(logits: torch.Tensor, temperature: float, top_p: float, shortlist: int):
    x = logits.to(torch.float32, copy=True)
    x.div_(temperature)  # division, not multiplication by 1/T: the same values as transformers' temperature warper
    b, vocab = x.shape
    probs = torch.softmax(x, dim=-1)
    k = min(shortlist, vocab)
    keys = _top_keys(x, k)  # [b, k], descending
    top_ids = _ids_of(keys)
    top_x = x.gather(1, top_ids)
    top_p_ = probs.gather(1, top_ids)
    before = torch.cumsum(top_p_, dim=-1) - top_p_
    keep = before < top_p
    keep[:, 0] = True
    if k < vocab:
        # (a) the shortlist holds the nucleus; (b) no token tied with its last one lies beyond the shortlist
        n_kept = keep.sum(-1, keepdim=True)
        last_x = top_x.gather(1, n_kept - 1).squeeze(1)
        exact = (top_p_.sum(-1) >= top_p) & (top_x[:, -1] < last_x)
        if not bool(exact.all()):
            bad = (~exact).nonzero().flatten()
            full_ids = torch.arange(vocab, device=x.device).expand(len(bad), vocab)
            full_keys = torch.sort(order_keys(x[bad], full_ids), dim=-1, descending=True).values
            f_ids = _ids_of(full_keys)
            f_p = probs[bad].gather(1, f_ids)
            f_keep = (torch.cumsum(f_p, dim=-1) - f_p) < top_p
            f_keep[:, 0] = True
            width = max(k, int(f_keep.sum(-1).max()))
            top_ids = _widen(top_ids, width)
            top_p_ = _widen(top_p_, width)
            keep = _widen(keep, width)
            top_ids[bad], top_p_[bad], keep[bad] = f_ids[:, :width], f_p[:, :width], f_keep[:, :width]
    width = int(keep.sum(-1).max())
    kept = torch.where(keep, top_p_, torch.zeros_like(top_p_))[:, :width]
    return top_ids[:, :width], kept / kept.sum(-1, keepdim=True)


def _widen(t: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(t, (0, width - t.shape[1])) if width > t.shape[1] else t


def _top_keys(x: torch.Tensor, k: int) -> torch.Tensor:
    """Order keys of the k largest entries of each row (canonical order), through chunk maxima when that is cheaper."""
    b, vocab = x.shape
    n_chunks = -(-vocab // CHUNK)
    if n_chunks <= 2 * k:
        ids = torch.arange(vocab, device=x.device).expand(b, vocab)
        return torch.topk(order_keys(x, ids), k, dim=-1, sorted=True).values
    if vocab % CHUNK:
        x = torch.nn.functional.pad(x, (0, n_chunks * CHUNK - vocab), value=float("-inf"))
    chunk_max = x.view(b, n_chunks, CHUNK).amax(-1)
    chunk_ids = torch.topk(chunk_max, k, dim=-1, sorted=False).indices
    cand = (chunk_ids.unsqueeze(-1) * CHUNK + torch.arange(CHUNK, device=x.device)).flatten(1)
    cand_keys = order_keys(x.gather(1, cand), cand)
    if vocab % CHUNK:  # padding positions must never be chosen: they carry -inf and sort last
        cand_keys = torch.where(cand < vocab, cand_keys, torch.iinfo(torch.int64).min)
    return torch.topk(cand_keys, k, dim=-1, sorted=True).values


def draw(ids: torch.Tensor, probs: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """Inverse-CDF draw of one token per row, row i using its own generator (so results do not depend on batching)."""
    u = torch.stack([torch.rand((), generator=g, dtype=torch.float64) for g in generators]).to(probs.device)
    cdf = torch.cumsum(probs.double(), dim=-1)
    cdf[:, -1] = 1.0 + 1e-12  # guards the last bin against rounding
    pos = torch.searchsorted(cdf, u.unsqueeze(-1)).clamp_max(probs.shape[-1] - 1)
    # never land on a zero-probability padding bin
    pos = torch.minimum(pos, (probs > 0).sum(-1, keepdim=True) - 1)
    return ids.gather(-1, pos).squeeze(-1)
