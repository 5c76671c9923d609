"""The linear toxicity probe w_toxic (paper §4.2, Table 7; protocol §3 "Probe").

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
- Data: CSV of text and 0/1 label. The paper uses Jigsaw's train split (159,571 comments); offline the default is
  RobTest's balanced 12,180-row Jigsaw subset (`jigsaw-subsets/robtest_jigsaw_balanced_12180.csv`, no header),
  of which `max_rows` are drawn at random (seeded).
"""

from __future__ import annotations

import csv
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .. import XdetoxError
from ..io import atomic_open, atomic_path, write_json

log = logging.getLogger("xdetox.interp")


def load_labelled_csv(path: str | Path, max_rows: int | None = None, seed: int = 0) -> list[tuple[str, int]]:
    """(text, label) rows of a 2-column CSV (text, 0/1 label; a header row is skipped); `max_rows` drawn at random."""
    path = Path(path)
    if not path.exists():
        raise XdetoxError(f"{path}: probe data not found")
    rows: list[tuple[str, int]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) < 2:
                raise XdetoxError(f"{path}:{lineno}: expected 2 columns (text, label), got {len(row)}")
            text, label = row[0], row[-1].strip()
            if label not in ("0", "1"):
                if lineno == 1:  # a header
                    continue
                raise XdetoxError(f"{path}:{lineno}: label {label!r} is not 0 or 1")
            rows.append((text, int(label)))
    if len({label for _, label in rows}) < 2:
        raise XdetoxError(f"{path}: the probe needs both labels, found only {sorted({l for _, l in rows})}")
    if max_rows is not None and max_rows < len(rows):
        rows = random.Random(seed).sample(rows, max_rows)
    return rows


@torch.inference_mode()
def pooled_features(model, tokenizer, texts: Sequence[str], max_tokens: int = 128, batch_size: int = 16) -> torch.Tensor:
    """[n, d_model] float32: mean over non-pad tokens of the last hidden state (after the final norm)."""
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
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


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve (Mann–Whitney U with average ranks for ties); NaN with a single class."""
    from scipy.stats import rankdata

    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    n_pos, n_neg = int(labels.sum()), int((1 - labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


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
    return loss, acc, roc_auc(logits.tolist(), y.long().tolist())


def train_probe(features: torch.Tensor, labels: Sequence[int], learning_rate: float = 1e-4, batch_size: int = 10,
                epochs: int = 20, val_fraction: float = 0.1, seed: int = 99, init: str = "default") -> ProbeResult:
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


def save_probe(result: ProbeResult, probe_path: str | Path, metrics_path: str | Path, history_path: str | Path,
               extra: dict | None = None) -> dict:
    with atomic_path(probe_path) as tmp:
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
        **(extra or {}),
    }
    write_json(metrics_path, metrics)
    with atomic_open(history_path) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(result.history[0]))
        writer.writeheader()
        writer.writerows(result.history)
    return metrics


def load_probe(path: str | Path) -> torch.Tensor:
    return torch.load(path, map_location="cpu")["weight"].float()


#: `interpret.probe.source` → the file in the data-folder layout (src/xdetox/data/sources.json pins its URL)
PROBE_SOURCES = {"jigsaw": "jigsaw-subsets/robtest_jigsaw_balanced_12180.csv"}


def probe_data_path(probe_cfg: dict, local_dir: str | None, download_dir: str) -> Path:
    """The probe CSV outside the workflow: `path` if set, else the source's file (local folder or download)."""
    if probe_cfg.get("path"):
        return Path(probe_cfg["path"])
    from ..data.fetch import resolve

    return resolve(PROBE_SOURCES[probe_cfg["source"]], local_dir, download_dir)


def probe_step(model_dir: str, data_path: str, probe_out: str, metrics_out: str, history_out: str, probe_cfg: dict,
               dtype: str = "float32", threads: int | None = None) -> dict:
    """Train the probe on the base model's pooled features and save weight, metrics and per-epoch history."""
    from ..generation.hf import load_model

    if threads:
        torch.set_num_threads(threads)
    rows = load_labelled_csv(data_path, probe_cfg.get("max_rows"), probe_cfg["seed"])
    log.info("probe data: %d rows (%d toxic) from %s", len(rows), sum(l for _, l in rows), data_path)
    model, tokenizer = load_model(model_dir, dtype)
    t0 = time.perf_counter()
    feats = pooled_features(model, tokenizer, [t for t, _ in rows], probe_cfg["max_tokens"], probe_cfg["feature_batch_size"])
    t_feat = time.perf_counter() - t0
    result = train_probe(feats, [l for _, l in rows], probe_cfg["learning_rate"], probe_cfg["batch_size"],
                         probe_cfg["epochs"], probe_cfg["val_fraction"], probe_cfg["seed"], probe_cfg["init"])
    metrics = save_probe(result, probe_out, metrics_out, history_out, {
        "data": str(data_path), "n_rows": len(rows), "max_tokens": probe_cfg["max_tokens"],
        "feature_seconds": round(t_feat, 1), "train_seconds": round(time.perf_counter() - t0 - t_feat, 1),
    })
    log.info("probe: best epoch %d, validation accuracy %.3f, ROC-AUC %.3f", result.best_epoch,
             result.val_accuracy, result.val_auc)
    return metrics
