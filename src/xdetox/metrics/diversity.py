"""Dist-1/2/3 of each prompt's continuations, as the reference defines them (paper §3.1.2; reference:
xg/eval/metric_diversity.py — the paper only says "proportion of distinct n-grams").

For one prompt's generations (empty strings dropped — whitespace-only ones are kept, as there): each generation is tokenized with the evaluation tokenizer (paper: google/mt5-xl, special tokens
added as the tokenizer does by default), every token id is decoded on its own with `skip_special_tokens=True`, empty
pieces are dropped, and
    Dist-n = #distinct n-grams over all the prompt's generations / total number of (unigram) tokens,
with the same denominator for n = 1, 2, 3; n-grams never cross generation boundaries and are keyed by the decoded
pieces joined with "_" (exactly as the reference). A language's Dist-n is the mean over its prompts. A prompt whose
generations are all empty (or decode to nothing) is skipped — the reference skips the former and would divide by
zero on the latter.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Sequence

import numpy as np

from .. import XdetoxError
from ..stats import percentile_bootstrap

KEYS = ("dist1", "dist2", "dist3")


class PieceDecoder:
    """Token ids → decoded pieces (each id decoded on its own), memoised: decoding is deterministic per id."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[int, str] = {}

    def pieces(self, text: str) -> list[str]:
        ids = self.tokenizer(text)["input_ids"]
        out = []
        for i in ids:
            piece = self.cache.get(i)
            if piece is None:
                piece = self.cache[i] = self.tokenizer.decode(i, skip_special_tokens=True)
            if piece:
                out.append(piece)
        return out


def distinct_n(token_lists: Sequence[Sequence[str]]) -> tuple[float, float, float] | None:
    """(Dist-1, Dist-2, Dist-3) of one prompt's tokenized generations; None when there are no tokens at all."""
    unigrams, bigrams, trigrams = set(), set(), set()
    total = 0
    for ow in token_lists:
        unigrams.update(ow)
        for i in range(len(ow) - 1):
            bigrams.add(ow[i] + "_" + ow[i + 1])
        for i in range(len(ow) - 2):
            trigrams.add(ow[i] + "_" + ow[i + 1] + "_" + ow[i + 2])
        total += len(ow)
    if total == 0:
        return None
    return len(unigrams) / total, len(bigrams) / total, len(trigrams) / total


def per_prompt_diversity(records: Iterable[dict], tokenizer) -> "OrderedDict[str, tuple[float, float, float]]":
    """Dist-1/2/3 per prompt id (first-seen order) over its generations' `text`."""
    decoder = tokenizer if isinstance(tokenizer, PieceDecoder) else PieceDecoder(tokenizer)
    groups: "OrderedDict[str, list[str]]" = OrderedDict()
    for r in records:
        groups.setdefault(str(r["prompt_id"]), []).append(r["text"])
    out: "OrderedDict[str, tuple[float, float, float]]" = OrderedDict()
    for pid, texts in groups.items():
        kept = [t for t in texts if t]
        if not kept:
            continue
        value = distinct_n([decoder.pieces(t) for t in kept])
        if value is not None:
            out[pid] = value
    return out


def per_prompt_records(records: Iterable[dict], tokenizer) -> list[dict]:
    """One record per prompt id (first-seen order): {prompt_id, dist1, dist2, dist3}, values None when skipped."""
    records = list(records)
    values = per_prompt_diversity(records, tokenizer)
    out = []
    for pid in OrderedDict.fromkeys(str(r["prompt_id"]) for r in records):
        v = values.get(pid)
        out.append({"prompt_id": pid, **{k: (None if v is None else v[j]) for j, k in enumerate(KEYS)}})
    return out


def summarize(prompt_records: Sequence[dict], n_boot: int, ci: float, seed: int) -> dict:
    """Mean Dist-1/2/3 over prompts (and the std over prompts, as the reference prints), with bootstrap CIs."""
    used = [r for r in prompt_records if r["dist1"] is not None]
    if not used:
        raise XdetoxError("diversity: every prompt's generations are empty")
    mat = np.array([[r[k] for k in KEYS] for r in used])
    result = {"n_prompts": len(prompt_records), "n_prompts_used": int(mat.shape[0])}
    for j, key in enumerate(KEYS):
        result[key] = float(mat[:, j].mean())
        result[f"{key}_std"] = float(mat[:, j].std())
    if n_boot > 0:
        def resampled(idx: np.ndarray) -> dict[str, np.ndarray]:
            boot = mat[idx].mean(axis=1)  # n_boot × 3
            return {key: boot[:, j] for j, key in enumerate(KEYS)}

        result["ci"] = percentile_bootstrap(mat.shape[0], resampled, n_boot, ci, seed)
        result["ci_level"], result["n_boot"] = ci, n_boot
    return result


def diversity_metrics(records: Iterable[dict], tokenizer, n_boot: int, ci: float, seed: int) -> dict:
    """Per-language Dist-1/2/3 of generation records {prompt_id, text}: per prompt, then the mean over prompts."""
    return summarize(per_prompt_records(records, tokenizer), n_boot, ci, seed)
