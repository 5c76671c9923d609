"""Greedy decoding with a KV cache, optionally recording chosen neurons' activations at each step.

As the reference (`xg/collect_neuron_activations.py`): each of the `n_tokens` steps runs the model, records the
activation at the last position (step 0: the last prompt token; step k: the k-th generated token) and appends the
argmax token. Exactly `n_tokens` steps are run for every prompt (the reference has no end-of-sequence stop), so the
activation statistics cover prompts × n_tokens; the returned *text* is cut at the first end-of-sequence token.

Prompts are left-padded and batched by length; position ids are recomputed so padding does not shift positions.
Results do not depend on the batch size beyond floating-point noise.

`prepend_bos`: each prompt starts with exactly one BOS, as the reference's TransformerLens (`to_tokens`,
`default_prepend_bos=True`); mGPT's and BLOOM's tokenizers add none themselves. Without it a prompt is encoded with
the tokenizer's own special tokens only (Gemma's and Llama's BOS stays; TransformerLens would strip it).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Sequence

import torch

from .. import models
from .adapters import MLPAdapter, Neuron


@dataclass
class GreedyResult:
    texts: list[str]
    token_ids: list[list[int]]
    #: [n_prompts, n_tokens, n_neurons] activations of the requested neurons (None when none were requested)
    activations: torch.Tensor | None


def _accepts_position_ids(model) -> bool:
    return "position_ids" in inspect.signature(model.forward).parameters


def _device(model) -> torch.device:
    return next(model.parameters()).device


def encode_prompts(tokenizer, texts: Sequence[str], prepend_bos: bool) -> list[list[int]]:
    """Token ids of each prompt: with `prepend_bos`, starting with exactly one BOS (see the module docstring)."""
    prefix = models.bos_prefix(tokenizer) if prepend_bos else ""
    return [tokenizer(prefix + t, add_special_tokens=True)["input_ids"] for t in texts]


@torch.inference_mode()
def greedy_generate(model, tokenizer, texts: Sequence[str], n_tokens: int, batch_size: int,
                    adapter: MLPAdapter | None = None, neurons: Sequence[Neuron] | None = None, *,
                    prepend_bos: bool) -> GreedyResult:
    """Greedy continuations of `texts` (n_tokens steps each); with `neurons`, their activation at each step."""
    if neurons is not None and adapter is None:
        raise ValueError("recording neurons needs an adapter")
    encoded = encode_prompts(tokenizer, texts, prepend_bos)
    order = sorted(range(len(texts)), key=lambda i: (len(encoded[i]), i))
    token_ids: list[list[int] | None] = [None] * len(texts)
    acts = torch.zeros(len(texts), n_tokens, len(neurons)) if neurons is not None else None
    stop = models.eos_ids(tokenizer, model=model)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        ids, batch_acts = _greedy_batch(model, tokenizer, [encoded[i] for i in batch], n_tokens, adapter, neurons)
        for row, i in enumerate(batch):
            token_ids[i] = ids[row]
            if acts is not None:
                acts[i] = batch_acts[:, row, :]
    out_texts = []
    for ids in token_ids:
        cut = next((k for k, t in enumerate(ids) if t in stop), len(ids))
        out_texts.append(tokenizer.decode(ids[:cut], skip_special_tokens=True))
    return GreedyResult(out_texts, token_ids, acts)


def _greedy_batch(model, tokenizer, encoded: list[list[int]], n_tokens: int, adapter, neurons):
    ids, mask = models.left_padded(encoded, models.pad_id(tokenizer), _device(model))
    use_pos = _accepts_position_ids(model)
    positions = (mask.cumsum(-1) - 1).clamp_min(0)
    extra = {"position_ids": positions} if use_pos else {}
    generated = []
    recorder_cm = adapter.record(neurons, last_position=True) if neurons is not None else _null()
    with recorder_cm as recorder:
        out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1, **extra)
        next_pos = positions[:, -1:] + 1
        for step in range(n_tokens):
            token = out.logits[:, -1, :].argmax(dim=-1)
            generated.append(token)
            if step == n_tokens - 1:
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
            extra = {"position_ids": next_pos} if use_pos else {}
            out = model(input_ids=token.unsqueeze(-1), attention_mask=mask, cache=out.cache, use_cache=True,
                        logits_to_keep=1, **extra)
            next_pos = next_pos + 1
        acts = recorder.steps() if recorder is not None else None
    tokens = torch.stack(generated, dim=1).cpu().tolist()
    return tokens, acts


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
