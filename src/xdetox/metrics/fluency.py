"""Perplexity of each continuation conditioned on its prompt: Table 2's PPL column and Figure 10 (paper §3.1.2, App. B).

Two modes, chosen by `evaluation.fluency.mode`:

- ``reference`` replicates the reference code (xg/eval/metric_perplexity.py) exactly, for a seq2seq evaluator such as
  the paper's google/mt5-xl: ``L(x) = model(ids(x), labels=ids(x)).loss`` (the *same* ids are the encoder input and
  the decoder labels; the loss is the mean over all n label tokens, the tokenizer's EOS included), then
  ``loss = (L(full)·(n_full−1) − L(prompt)·(n_prompt−1)) / (n_full − n_prompt)`` with full = prompt + continuation,
  ``ppl = exp(loss)``, kept only if ``ppl < max_ppl`` (1e4); empty or whitespace-only continuations are skipped.
  This is not a conditional perplexity (the encoder sees the continuation, and the (n−1) counts do not match the
  n-token mean; the paper describes "perplexity … conditioned on the prompts") — it is what the paper's numbers
  measure.
- ``causal`` is the standard conditional perplexity under a causal LM:
  ``ppl = exp(−(1/m) Σ_t log p(y_t | prompt, y_<t))`` over the m tokens of prompt + continuation that follow the
  longest common prefix with the prompt's own tokens (normally exactly the continuation's tokens). The prompt is run
  once; its KV cache is repeated for all of that prompt's continuations, which are scored together in one batch.

Per language the summary is the reference's: median, Q1 and Q3 with ``np.percentile(..., method="midpoint")``
(the reference's ``interpolation="midpoint"``) over the kept values, plus a bootstrap CI of the median over prompts.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections import OrderedDict
from typing import Iterable, Sequence

import numpy as np
import torch

from .. import XdetoxError, models
from ..stats import percentile_bootstrap

log = logging.getLogger("xdetox.fluency")

MODES = ("reference", "causal")
#: logits kept in memory at once (rows × positions × vocabulary entries): 512 MB in float32
MAX_LOGIT_ELEMENTS = 128 * 1024 * 1024


def usable(text: str | None) -> bool:
    """The reference skips `not generated_text or not generated_text.strip()`."""
    return bool(text) and bool(text.strip())


def load_evaluator(path: str, mode: str, dtype: str, device: str | None = None, threads: int | None = None):
    """(model, tokenizer): a seq2seq evaluator for `reference` mode, a causal LM for `causal` mode."""
    if mode not in MODES:
        raise XdetoxError(f"evaluation.fluency.mode: unknown mode {mode!r}; choose from {', '.join(MODES)}")
    tokenizer = models.load_tokenizer(path)
    try:
        model = models.load_model(path, "seq2seq" if mode == "reference" else "causal", dtype=dtype, device=device,
                                  threads=threads)
    except ValueError as err:
        kind = "a seq2seq (encoder-decoder) model such as google/mt5-xl" if mode == "reference" else "a causal LM"
        raise XdetoxError(f"evaluation.fluency: mode {mode!r} needs {kind}; {path!r} is not one ({err})") from None
    return model, tokenizer


# ---------------------------------------------------------------------------------------------------- reference mode

def seq2seq_self_losses(model, tokenizer, texts: Sequence[str], batch_size: int) -> dict[str, tuple[float, int]]:
    """For each text: (``model(ids, labels=ids).loss``, n = len(ids)), batched with right padding.

    The loss of a padded row is the mean token cross-entropy over its own n labels, which is what the reference's
    unbatched call returns (padding is masked in the encoder and comes after every label in the causal decoder).
    """
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    unique = list(OrderedDict.fromkeys(texts))
    encoded = {t: tokenizer.encode(t) for t in unique}
    order = sorted(unique, key=lambda t: len(encoded[t]))
    result: dict[str, tuple[float, int]] = {}
    with torch.inference_mode():
        start = 0
        while start < len(order):
            width = len(encoded[order[min(start + batch_size, len(order)) - 1]])
            rows = max(1, min(batch_size, MAX_LOGIT_ELEMENTS // max(1, width * model.config.vocab_size)))
            batch = order[start:start + rows]
            start += len(batch)
            width = max(len(encoded[t]) for t in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for i, t in enumerate(batch):
                ids[i, : len(encoded[t])] = torch.tensor(encoded[t])
                mask[i, : len(encoded[t])] = 1
            labels = ids.masked_fill(mask == 0, -100)
            ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
            logits = model(input_ids=ids, attention_mask=mask, labels=labels).logits.float()
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
            means = (nll * mask).sum(-1) / mask.sum(-1)
            for t, value in zip(batch, means.tolist()):
                result[t] = (float(value), len(encoded[t]))
    return result


def reference_perplexities(model, tokenizer, records: Sequence[dict], batch_size: int, max_ppl: float) -> list[dict]:
    """One result per record (same order): the reference's perplexity, or `ppl: None` with the reason it was dropped."""
    texts = []
    for r in records:
        if usable(r["text"]):
            texts += [r["prompt"], r["prompt"] + r["text"]]
    losses = seq2seq_self_losses(model, tokenizer, texts, batch_size)
    out = []
    for r in records:
        result = _result(r)
        if not usable(r["text"]):
            result["dropped"] = "empty"
        else:
            full_loss, n_full = losses[r["prompt"] + r["text"]]
            prompt_loss, n_prompt = losses[r["prompt"]]
            result["n_tokens"] = n_full - n_prompt
            if n_full == n_prompt:
                # the reference divides by zero here (nan/inf fails its `ppl < 1e4` check): dropped either way
                result["dropped"] = "no tokens"
            else:
                loss = (full_loss * (n_full - 1) - prompt_loss * (n_prompt - 1)) / (n_full - n_prompt)
                _finish(result, loss, max_ppl)
        out.append(result)
    return out


# ------------------------------------------------------------------------------------------------------- causal mode

def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def split_ids(tokenizer, prompt: str, text: str) -> tuple[list[int], list[int]]:
    """(context ids, scored ids): the tokens of prompt + text after their longest common prefix with the prompt's."""
    p_ids = tokenizer(prompt)["input_ids"]
    f_ids = tokenizer(prompt + text)["input_ids"]
    k = common_prefix(p_ids, f_ids)
    context, target = list(f_ids[:k]), list(f_ids[k:])
    if not context:  # nothing to condition on (no BOS and a merged first token): start from BOS/EOS
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        context = [start]
    return context, target


def causal_perplexities(model, tokenizer, records: Sequence[dict], batch_size: int, max_ppl: float) -> list[dict]:
    """One result per record (same order): conditional perplexity; each prompt is run once and its KV cache serves
    all its continuations. Several prompts share a forward pass (contexts left-padded, continuations right-padded)."""
    results = [_result(r) for r in records]
    groups: "OrderedDict[tuple, list[tuple[int, list[int]]]]" = OrderedDict()
    for i, r in enumerate(records):
        if not usable(r["text"]):
            results[i]["dropped"] = "empty"
            continue
        context, target = split_ids(tokenizer, r["prompt"], r["text"])
        results[i]["n_tokens"] = len(target)
        if not target:
            results[i]["dropped"] = "no tokens"
            continue
        groups.setdefault(tuple(context), []).append((i, target))
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    max_rows = max(1, min(batch_size, MAX_LOGIT_ELEMENTS // max(1, cfg.vocab_size *
                                                               max((len(t) for v in groups.values() for _, t in v), default=1))))
    # units of work: (context, up to max_rows continuations); consecutive units of similar context length are batched
    units = [(ctx, items[j:j + max_rows]) for ctx, items in groups.items() for j in range(0, len(items), max_rows)]
    units.sort(key=lambda u: len(u[0]))
    batch: list = []
    with torch.inference_mode():
        for unit in units:
            if batch and sum(len(u[1]) for u in batch) + len(unit[1]) > max_rows:
                _score_batch(model, tokenizer, batch, results, max_ppl)
                batch = []
            batch.append(unit)
        if batch:
            _score_batch(model, tokenizer, batch, results, max_ppl)
    return results


def _score_batch(model, tokenizer, units, results, max_ppl) -> None:
    """Score the continuations of several contexts: one pass over the contexts, one over all continuations."""
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    takes_positions = "position_ids" in inspect.signature(model.forward).parameters
    kw = lambda pos: {"position_ids": pos.to(device)} if takes_positions else {}  # noqa: E731 (BLOOM: ALiBi, no positions)
    k = max(len(ctx) for ctx, _ in units)
    ids = torch.full((len(units), k), pad_id, dtype=torch.long)
    mask = torch.zeros((len(units), k), dtype=torch.long)
    for row, (ctx, _) in enumerate(units):
        ids[row, k - len(ctx):] = torch.tensor(ctx)
        mask[row, k - len(ctx):] = 1
    positions = (mask.cumsum(-1) - 1).clamp_min(0)
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=True, logits_to_keep=1,
                **kw(positions))  # only the last context position is needed: it predicts the first token
    first = torch.log_softmax(out.logits[:, -1].float(), -1)
    rows = [(u, i, t) for u, (_, items) in enumerate(units) for i, t in items]
    sums = [float(first[u, t[0]]) for u, _, t in rows]
    w = max(len(t) for _, _, t in rows) - 1
    if w > 0:
        cache = _cache(out)
        cache.batch_select_indices(torch.tensor([u for u, _, _ in rows], device=device))
        cont = torch.full((len(rows), w), pad_id, dtype=torch.long)
        cont_mask = torch.zeros((len(rows), w), dtype=torch.long)
        for r, (_, _, t) in enumerate(rows):
            cont[r, : len(t) - 1] = torch.tensor(t[:-1])
            cont_mask[r, : len(t) - 1] = 1
        ctx_len = mask.sum(-1)[[u for u, _, _ in rows]]
        cont_pos = ctx_len.unsqueeze(-1) + torch.arange(w).unsqueeze(0)
        full_mask = torch.cat([mask[[u for u, _, _ in rows]], cont_mask], dim=-1)
        logits = model(input_ids=cont.to(device), attention_mask=full_mask.to(device), cache=cache, use_cache=True,
                       **kw(cont_pos)).logits.float()
        targets = torch.full((len(rows), w), 0, dtype=torch.long)
        for r, (_, _, t) in enumerate(rows):
            targets[r, : len(t) - 1] = torch.tensor(t[1:])
        targets = targets.to(device)
        token_logp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
        token_logp = (token_logp * cont_mask.to(device)).sum(-1)
        del logits
        for r in range(len(rows)):
            sums[r] += float(token_logp[r])
    for (_, i, t), total in zip(rows, sums):
        _finish(results[i], -total / len(t), max_ppl)


def _cache(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


# ------------------------------------------------------------------------------------------------------------ common

def _result(record: dict) -> dict:
    return {"prompt_id": record["prompt_id"], "lang": record.get("lang"), "sample": record.get("sample"),
            "ppl": None, "loss": None, "n_tokens": 0, "dropped": None}


def _finish(result: dict, loss: float, max_ppl: float) -> None:
    result["loss"] = float(loss)
    ppl = math.exp(loss) if loss < 700 else math.inf
    if not math.isfinite(ppl) or not ppl < max_ppl:
        result["dropped"] = f"ppl >= {max_ppl:g}"
    else:
        result["ppl"] = ppl


def select_samples(records: Sequence[dict], max_samples_per_prompt: int | None) -> list[dict]:
    """The first `max_samples_per_prompt` samples (by sample index) of each prompt; all when None."""
    if not max_samples_per_prompt:
        return list(records)
    return [r for r in records if int(r["sample"]) < max_samples_per_prompt]


def perplexities(model, tokenizer, records: Sequence[dict], mode: str, batch_size: int, max_ppl: float) -> list[dict]:
    if mode == "reference":
        return reference_perplexities(model, tokenizer, records, batch_size, max_ppl)
    if mode == "causal":
        return causal_perplexities(model, tokenizer, records, batch_size, max_ppl)
    raise XdetoxError(f"evaluation.fluency.mode: unknown mode {mode!r}; choose from {', '.join(MODES)}")


def midpoint(values, q: float) -> float:
    return float(np.percentile(values, q, method="midpoint"))


def summarize(results: Iterable[dict], n_boot: int, ci: float, seed: int) -> dict:
    """Median (the reference's midpoint percentile), Q1, Q3, mean over kept values; bootstrap CI of the median
    over prompts (each resample pools the kept values of the resampled prompts)."""
    results = list(results)
    kept = [r["ppl"] for r in results if r["ppl"] is not None]
    dropped: dict[str, int] = {}
    for r in results:
        if r["dropped"]:
            dropped[r["dropped"]] = dropped.get(r["dropped"], 0) + 1
    summary = {"n_total": len(results), "n_kept": len(kept), "dropped": dropped}
    if not kept:
        summary.update({"median": None, "q1": None, "q3": None, "mean": None})
        return summary
    summary.update({"median": midpoint(kept, 50), "q1": midpoint(kept, 25), "q3": midpoint(kept, 75),
                    "mean": float(np.mean(kept))})
    if n_boot > 0:
        by_prompt: "OrderedDict[str, list[float]]" = OrderedDict()
        for r in results:
            by_prompt.setdefault(str(r["prompt_id"]), [])
            if r["ppl"] is not None:
                by_prompt[str(r["prompt_id"])].append(r["ppl"])
        groups = [np.array(v) for v in by_prompt.values()]

        def resampled(idx: np.ndarray) -> dict[str, list[float]]:
            medians = []
            for rows in idx:
                pooled = np.concatenate([groups[i] for i in rows])
                if pooled.size:  # a resample of prompts without kept values has no median
                    medians.append(np.percentile(pooled, 50, method="midpoint"))
            return {"median": medians}

        summary["ci"] = percentile_bootstrap(len(groups), resampled, n_boot, ci, seed)
        summary["ci_level"], summary["n_boot"] = ci, n_boot
    return summary
