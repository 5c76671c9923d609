"""Sentence representations at every layer: mean-pooled hidden states of a causal LM (paper §5; reference
`xg/retrieval/retrieval_acc_save.py`).

As the reference:
- all hidden states, embedding output included (`output_hidden_states=True`: n_layers + 1 entries);
- the tokenizer's own special tokens are added (`add_special_tokens=True`, e.g. Gemma/Llama's BOS), and pooled with
  the rest;
- mean over non-pad tokens (the attention mask), right padding, pad = eos when the tokenizer has no pad token.

Beyond it (none changes a pooled value): only the transformer body runs (`AutoModel`; the LM head is never
computed, a large saving for 256k-token vocabularies); sentences are batched in order of length so a batch holds
similar lengths, then put back in input order; a sentence longer than `max_length` tokens is truncated (the reference
does not truncate; the paper's prompts are far below the default).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from .. import XdetoxError, models

log = logging.getLogger("xdetox")


def load_encoder(model_dir: str | Path, dtype: str, device: str | None = None):
    """(tokenizer, model body) for a causal-LM checkpoint; right padding, pad = eos where the tokenizer has none."""
    if not Path(model_dir).is_dir():
        raise XdetoxError(f"{model_dir}: model folder not found")
    tokenizer = models.load_tokenizer(model_dir, padding_side="right", pad_with_eos=True)
    return tokenizer, models.load_model(model_dir, "body", dtype=dtype, device=device)


def mean_pool(hidden, mask):
    """[batch, seq, d] hidden states, [batch, seq] 0/1 mask -> [batch, d] mean over the tokens where mask is 1."""
    mask = mask.to(hidden.dtype).unsqueeze(-1)
    counts = mask.sum(dim=1).clamp(min=1)
    return (hidden * mask).sum(dim=1) / counts


def encode(tokenizer, model, texts: list[str], batch_size: int, max_length: int | None, add_special_tokens: bool,
           sort_by_length: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """float32 [n_layers+1, n_sentences, d_model] mean-pooled hidden states and the token count of each sentence."""
    if not texts:
        raise XdetoxError("no sentences to encode")
    if batch_size < 1:
        raise XdetoxError(f"batch_size must be at least 1, got {batch_size}")
    trunc = dict(truncation=True, max_length=max_length) if max_length else {}
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=add_special_tokens, **trunc)["input_ids"]]
    if min(lengths) == 0:
        raise XdetoxError(f"sentence {lengths.index(0)} has no tokens")
    order = sorted(range(len(texts)), key=lambda i: lengths[i]) if sort_by_length else list(range(len(texts)))
    out = None
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                              add_special_tokens=add_special_tokens, **trunc).to(device)
            outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            output_hidden_states=True, use_cache=False)
            pooled = torch.stack([mean_pool(h, batch["attention_mask"]) for h in outputs.hidden_states])
            pooled = pooled.float().cpu().numpy()
            if out is None:
                out = np.empty((pooled.shape[0], len(texts), pooled.shape[2]), dtype=np.float32)
            out[:, idx, :] = pooled
    if not np.all(np.isfinite(out)):
        raise XdetoxError("non-finite values in the hidden states (try dtype float32)")
    return out, np.asarray(lengths, dtype=np.int64)


def representations(model_dir: str | Path, texts_by_lang: dict[str, list[str]], batch_size: int,
                    max_length: int | None, add_special_tokens: bool, dtype: str, threads: int | None = None,
                    device: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Load the model once, then one pass per language (see `encode`): {lang: (hidden, n_tokens)}.

    Loading dominates on CPU for small models (tokenizer + weights + first touch of the weights: ~10-20 s for
    Gemma 3 270M here) and for 7B models anywhere, so every language of a model is encoded by one job.
    """
    models.set_threads(threads)
    t0 = time.perf_counter()
    tokenizer, model = load_encoder(model_dir, dtype, device)
    log.info("%s: loaded in %.1fs on %s", model_dir, time.perf_counter() - t0, next(model.parameters()).device)
    out = {}
    for lang, texts in texts_by_lang.items():
        t1 = time.perf_counter()
        hidden, n_tokens = encode(tokenizer, model, texts, batch_size, max_length, add_special_tokens)
        log.info("%s: %d sentences (%d tokens) -> %s in %.1fs", lang, len(texts), int(n_tokens.sum()),
                 tuple(hidden.shape), time.perf_counter() - t1)
        out[lang] = (hidden, n_tokens)
    return out
