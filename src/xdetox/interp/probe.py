"""The linear toxicity probe w_toxic (paper §4.2, Table 7; reference: xg/probe.py, xg/training/probe_trainer.py).

- Input: the last hidden state, mean-pooled over non-pad tokens (right padding, truncation). It is
  `output_hidden_states=True`'s last entry, which for Hugging Face causal LMs is taken *after* the final norm
  (`ln_f` for GPT-2/BLOOM, the final RMSNorm for Llama/Gemma) — the same tensor as the reference's
  `pretrained_model.transformer(ids)[0]` (GPT-2 `last_hidden_state`).
- Probe: `nn.Linear(d_model, 1, bias=False)`; sigmoid + binary cross-entropy (computed as BCEWithLogitsLoss, the same
  loss in a numerically stable form); Adam, lr 1e-4, batch 10, 20 epochs; seeded 90/10 train/validation split;
  the epoch with the lowest validation loss is kept.
- The base LM is frozen, so the pooled features are computed once and the probe is trained on them (identical
  to running the frozen LM in every step, and ~epochs× faster).
- Initialisation (`init`): the reference keeps PyTorch's random default; over its ~290k Adam steps that start is
  washed out, but over the few hundred steps a small data budget allows it is not (Gemma 3 270M, 600 rows: cosine
  0.87 between the trained weight and its random start), and the direction then ranks value vectors by noise. The
  workflow's default is therefore a zero start, so the direction comes from the data alone.
- Data (xdetox.data.probe): CSV of text and 0/1 label. The paper uses Jigsaw's train split (159,571 comments);
  offline the default is RobTest's balanced 12,180-row Jigsaw subset, of which `max_rows` are drawn at random.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from .. import XdetoxError, models
from ..stats import roc_auc

log = logging.getLogger("xdetox.interp")


@torch.inference_mode()
def pooled_features(model, tokenizer, texts: Sequence[str], max_tokens: int, batch_size: int) -> torch.Tensor:
    """[n, d_model] float32: mean over non-pad tokens of the last hidden state (after the final norm)."""
    device = next(model.parameters()).device
    pad_id = models.pad_id(tokenizer)
    encoded = [tokenizer(t, add_special_tokens=True, truncation=True, max_length=max_tokens)["input_ids"] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    feats: list[torch.Tensor | None] = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):  # right padding, as the reference
            ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
            mask[row, : len(encoded[i])] = 1
        ids, mask = ids.to(device), mask.to(device)
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False, logits_to_keep=1)
        hidden = out.hidden_states[-1].float()
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1)
        for row, i in enumerate(batch):
            feats[i] = pooled[row].cpu()
    return torch.stack(feats)


@dataclass
class ProbeResult:
    weight: torch.Tensor  # [d_model]
    best_epoch: int
    val_loss: float
    val_accuracy: float
    val_auc: float
    train_accuracy: float
    n_train: int
    n_val: int
    history: list[dict] = field(default_factory=list)


def _evaluate(probe: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
    with torch.no_grad():
        logits = probe(x).squeeze(-1)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y).item()
        acc = ((logits > 0).float() == y).float().mean().item()
    return loss, acc, roc_auc(y.long().tolist(), logits.tolist())


def train_probe(features: torch.Tensor, labels: Sequence[int], learning_rate: float, batch_size: int, epochs: int,
                val_fraction: float, seed: int, init: str) -> ProbeResult:
    """Train w_toxic on precomputed features; keep the epoch with the lowest validation loss."""
    x = features.float()
    y = torch.tensor(list(labels), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=gen)
    n_val = max(1, int(round(len(y) * val_fraction)))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if len(train_idx) == 0:
        raise XdetoxError(f"too few probe rows ({len(y)}) for a validation fraction of {val_fraction}")
    torch.manual_seed(seed)
    probe = nn.Linear(x.shape[1], 1, bias=False)
    if init == "zeros":
        nn.init.zeros_(probe.weight)
    optimizer = torch.optim.Adam(probe.parameters(), lr=learning_rate)
    xt, yt, xv, yv = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny steps: threading only adds overhead
    try:
        return _fit(probe, optimizer, xt, yt, xv, yv, batch_size, epochs, gen)
    finally:
        torch.set_num_threads(threads)


def _fit(probe, optimizer, xt, yt, xv, yv, batch_size, epochs, gen) -> ProbeResult:
    best = None
    history = []
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(yt), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(probe(xt[idx]).squeeze(-1), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        val_loss, val_acc, val_auc = _evaluate(probe, xv, yv)
        _, train_acc, _ = _evaluate(probe, xt, yt)
        history.append({"epoch": epoch, "train_loss": total / len(yt), "train_accuracy": train_acc,
                        "val_loss": val_loss, "val_accuracy": val_acc, "val_auc": val_auc})
        if best is None or val_loss < best[0]:
            best = (val_loss, epoch, probe.weight.detach().clone().squeeze(0), val_acc, val_auc, train_acc)
    val_loss, epoch, weight, val_acc, val_auc, train_acc = best
    return ProbeResult(weight, epoch, val_loss, val_acc, val_auc, train_acc, len(yt), len(yv), history)
