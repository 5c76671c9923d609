"""Cross-fitted heads by prompt Index, their out-of-fold scores, and the trained artifact on disk.

Cross-fitting: a prompt id (the RTP-LX `Index`, shared by the translations of a prompt in all 17 languages) falls in
fold `fold_of(id)` of K — a hash, so it needs no list and is the same in every rule. Head k is trained on every
labelled example whose prompt is NOT in fold k (plus the examples without a prompt id, e.g. Jigsaw), and scores
exactly the texts whose prompt is in fold k — a prompt, its translations, and every continuation sampled from any of
them. So no head ever scores a text whose prompt Index it was trained on; the artifact stores each head's training
prompt ids and the scorer checks them at scoring time as well. With K < 2, or no prompt-labelled examples (Jigsaw
only), there is one head, which may score anything.

On disk (a folder): `heads.npz` (standardisation and weights per head), `model.json` (encoder fingerprint, feature
and head settings, K, seed, training data summary, each head's training prompt ids, sha256 of heads.npz) and
`oof.jsonl` (the out-of-fold score of every prompt-labelled training text, so validation needs no second pass).
Loading checks the hash of heads.npz and, when told what to expect, the encoder fingerprint and the settings: a head
trained for another encoder or other settings is an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..base import ScoringError
from ...io import atomic_dir, read_jsonl, write_json, write_jsonl
from .encoder import FeatureSpec
from .heads import Head, HeadSpec, fit_head

FORMAT = "xdetox-learned-scorer/1"
#: keys of the scorer's config section that the trained heads must match
CONFIG_KEYS = ("layers", "pooling", "max_length", "precision", "head", "l2", "folds")


def fold_of(prompt_id: str, folds: int, seed: int = 0) -> int:
    """The fold (0..folds-1) of a prompt id; stable across runs, machines and languages."""
    digest = hashlib.sha256(f"xdetox-fold:{seed}:{prompt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


@dataclass
class Example:
    """A training text: `rating` (the training target on 1–5) or None with `label` (Jigsaw: toxic or not); `human`
    is the text's own human rating when the target is something else (e.g. its Index's mean over languages)."""
    text: str
    lang: str
    prompt_id: str | None = None
    rating: float | None = None
    label: bool | None = None
    source: str = ""
    human: float | None = None

    def target(self, head: HeadSpec) -> float:
        if self.rating is not None:
            return float(self.rating)
        if self.label is None:
            raise ScoringError(f"learned scorer: training text {self.text[:40]!r} has neither a rating nor a label")
        return head.binary_rating if self.label else 1.0


@dataclass
class LearnedHeads:
    encoder: dict  # {path, model_type, fingerprint}
    features: FeatureSpec
    head: HeadSpec
    folds: int
    seed: int
    heads: list[Head]
    trained_ids: list[set[str]]  # per head: the prompt ids it was trained on
    training: dict = field(default_factory=dict)  # what it was trained on (counts per source and language)
    oof: list[dict] = field(default_factory=list)  # {lang, prompt_id, text, score, fold}
    digest: str = ""  # sha256 of heads.npz once saved or loaded

    @property
    def cross_fitted(self) -> bool:
        return len(self.heads) > 1

    def head_index(self, prompt_id: str | None) -> int:
        """The head that scores a text of prompt `prompt_id`; refuses a text it cannot score out of fold."""
        if not self.cross_fitted:
            return 0
        if prompt_id is None:
            raise ScoringError("learned scorer: its heads are cross-fitted by prompt Index, so every text needs the "
                               "id of its prompt (score_prompts), and none was given")
        k = fold_of(str(prompt_id), self.folds, self.seed)
        if str(prompt_id) in self.trained_ids[k]:  # cannot happen by construction; checked because it must never
            raise ScoringError(f"learned scorer: head {k} was trained on prompt {prompt_id!r} and may not score it")
        return k

    def mismatches(self, configured: Mapping) -> list[str]:
        """Config keys (CONFIG_KEYS) whose configured value differs from what these heads were trained with."""
        have = {"layers": list(self.features.layers), "pooling": self.features.pooling,
                "max_length": self.features.max_length, "precision": self.features.precision, "head": self.head.kind, "l2": self.head.l2,
                "folds": self.folds}
        wanted = {k: (list(v) if k == "layers" else v) for k, v in configured.items() if k in have}
        return [f"{k}: trained with {have[k]!r}, configured {v!r}" for k, v in wanted.items() if have[k] != v]

    def settings(self) -> dict:
        """Everything that must match for the heads to be reused (the encoder, features, head, folds)."""
        return {"encoder_fingerprint": self.encoder["fingerprint"], "features": self.features.to_dict(),
                "head": self.head.to_dict(), "folds": self.folds, "seed": self.seed}


def fit_crossfitted(features: np.ndarray, examples: Sequence[Example], head: HeadSpec, folds: int, seed: int = 0,
                    weights: np.ndarray | None = None) -> tuple[list[Head], list[set[str]], np.ndarray, np.ndarray]:
    """Heads (one per fold, or one), their training prompt ids, and each example's out-of-fold score and fold.

    Examples without a prompt id are in every head's training set and get no out-of-fold score (NaN, fold −1).
    """
    if len(features) != len(examples):
        raise ScoringError(f"learned scorer: {len(features)} feature rows for {len(examples)} examples")
    target = np.array([e.target(head) for e in examples])
    ids = [None if e.prompt_id is None else str(e.prompt_id) for e in examples]
    has_id = np.array([i is not None for i in ids])
    oof = np.full(len(examples), np.nan)
    fold = np.full(len(examples), -1)
    if folds < 2 or not has_id.any():
        return [fit_head(features, target, head, weights)], [{i for i in ids if i is not None}], oof, fold
    fold[has_id] = [fold_of(i, folds, seed) for i in ids if i is not None]
    heads, trained = [], []
    for k in range(folds):
        train = fold != k  # includes the examples without prompt id (fold −1)
        heads.append(fit_head(features[train], target[train], head, None if weights is None else weights[train]))
        trained.append({ids[i] for i in np.flatnonzero(train & has_id)})
        test = fold == k
        if test.any():
            oof[test] = heads[-1].predict(features[test])
    return heads, trained, oof, fold


def _npz_bytes(heads: Sequence[Head]) -> dict[str, np.ndarray]:
    arrays = {}
    for k, h in enumerate(heads):
        arrays[f"mean_{k}"], arrays[f"scale_{k}"], arrays[f"weight_{k}"] = h.mean, h.scale, h.weight
        arrays[f"bias_{k}"] = np.array([h.bias])
    return arrays


def save(model: LearnedHeads, out_dir: str | Path) -> Path:
    """Write the artifact folder atomically; sets model.digest."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        np.savez(tmp / "heads.npz", **_npz_bytes(model.heads))
        model.digest = hashlib.sha256((tmp / "heads.npz").read_bytes()).hexdigest()
        write_json(tmp / "model.json", {
            "format": FORMAT, "encoder": model.encoder, "features": model.features.to_dict(),
            "head": model.head.to_dict(), "folds": model.folds, "seed": model.seed, "training": model.training,
            "heads": [{"kind": h.kind, "trained_prompt_ids": sorted(t, key=_id_order)}
                      for h, t in zip(model.heads, model.trained_ids)],
            "heads_sha256": model.digest,
        })
        write_jsonl(tmp / "oof.jsonl", model.oof)
    return out_dir


def _id_order(pid: str):
    return (0, int(pid), "") if pid.isdigit() else (1, 0, pid)


def load(path: str | Path, expect: Mapping | None = None) -> LearnedHeads:
    """Read an artifact folder. `expect`: settings (as LearnedHeads.settings()) it must have been trained with."""
    path = Path(path)
    meta_path = path / "model.json"
    if not meta_path.is_file():
        raise ScoringError(f"learned scorer: no trained heads at {path} (missing model.json)")
    from ...io import read_json

    meta = read_json(meta_path)
    if meta.get("format") != FORMAT:
        raise ScoringError(f"{meta_path}: not a learned-scorer artifact of format {FORMAT} "
                           f"(format {meta.get('format')!r})")
    raw = (path / "heads.npz").read_bytes() if (path / "heads.npz").is_file() else b""
    digest = hashlib.sha256(raw).hexdigest()
    if not raw or digest != meta.get("heads_sha256"):
        raise ScoringError(f"{path / 'heads.npz'}: missing or does not match the sha256 recorded in {meta_path}")
    with np.load(path / "heads.npz") as arrays:
        heads = [Head(h["kind"], arrays[f"mean_{k}"], arrays[f"scale_{k}"], arrays[f"weight_{k}"],
                      float(arrays[f"bias_{k}"][0])) for k, h in enumerate(meta["heads"])]
    oof_path = path / "oof.jsonl"
    model = LearnedHeads(
        encoder=meta["encoder"], features=FeatureSpec(**meta["features"]), head=HeadSpec(**meta["head"]),
        folds=int(meta["folds"]), seed=int(meta["seed"]), heads=heads,
        trained_ids=[set(h["trained_prompt_ids"]) for h in meta["heads"]], training=meta.get("training", {}),
        oof=read_jsonl(oof_path) if oof_path.is_file() else [], digest=digest,
    )
    if expect is not None:
        have = model.settings()
        wrong = [key for key in expect if have.get(key) != expect[key]]
        if wrong:
            detail = "; ".join(f"{key}: trained with {have.get(key)!r}, configured {expect[key]!r}" for key in wrong)
            what = "another encoder" if "encoder_fingerprint" in wrong else "other settings"
            raise ScoringError(f"{meta_path}: these heads were trained for {what} ({detail}); retrain them")
    return model
