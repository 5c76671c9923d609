"""Training data for the learned scorer and the training run that writes its artifact.

Sources: RTP-LX human ratings (v0.2 raw, every language, the first `max_per_lang` prompts of each language — the
prompts' Index is the cross-fitting unit) and the English Jigsaw subset (`comment_text,label` rows without header;
binary labels). One encoder pass computes the features of every training text; the heads are fitted per fold.
"""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ..base import ScoringError
from ...data.prompts import load_rtplx_annotations, select
from .encoder import Encoder, FeatureSpec, describe
from .heads import HeadSpec
from .model import Example, LearnedHeads, fit_crossfitted, save
from .scorer import oof_records

log = logging.getLogger("xdetox.scoring")


TARGETS = ("own", "index_mean")


def rtplx_examples(files: dict[str, str | Path], max_per_lang: int | None = None, selection: str = "random",
                   seed: int = 0, target: str = "own") -> list[Example]:
    """Rated RTP-LX prompts of each language (lang → its RTP_LX_{LOCALE}.json): max_per_lang of each, a seeded random
    subset by default. Not the first n: RTP-LX is ordered toxic first (Index 0–599: 55% rated ≥ 3; 600–999: 10%), so
    the first 600 hold almost no benign prompts and a head trained on them fails on benign text (measured: mean AUC
    0.76 from the first 600 per language vs 0.81 from 300 random ones).

    target "own": each text's own rating (mean of its 3 raters). "index_mean": the mean rating of its Index over all
    loaded languages, which makes the scorer language-neutral — it no longer learns that, say, Indonesian raters
    rate the same prompt lower — at almost no AUC cost (measured 0.825 vs 0.830; offset from English on the parallel
    prompts at most 0.09 instead of 0.26). The human rating kept for validation is always the text's own."""
    if target not in TARGETS:
        raise ScoringError(f"learned scorer: unknown RTP-LX target {target!r}; choose from {', '.join(TARGETS)}")
    every = {lang: load_rtplx_annotations(path, lang) for lang, path in files.items()}
    by_index: dict[str, list[float]] = {}
    for records in every.values():
        for r in records:
            by_index.setdefault(r["id"], []).append(r["toxicity_mean"])
    out = []
    for lang, records in every.items():
        for r in select(records, max_per_lang, selection, seed):
            # index_mean: the mean rating of this Index over the loaded languages — the same prompt judged by up to
            # 17 × 3 raters. Cross-fitting still holds (only heads that train on the Index see its labels).
            rating = r["toxicity_mean"] if target == "own" else sum(by_index[r["id"]]) / len(by_index[r["id"]])
            out.append(Example(r["text"], lang, r["id"], rating=rating, source="rtplx", human=r["toxicity_mean"]))
    return out


def jigsaw_examples(path: str | Path, max_examples: int | None = None, seed: int = 0) -> list[Example]:
    """Jigsaw comments with a 0/1 toxic label (2 columns, no header); a seeded subset keeps both classes balanced as
    the file is."""
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"learned scorer: Jigsaw file {path} not found")
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) != 2 or row[1].strip() not in ("0", "1"):
                raise ScoringError(f"{path}:{lineno}: expected 2 columns `comment_text,label` with label 0 or 1")
            if row[0].strip():
                rows.append((row[0], row[1].strip() == "1"))
    if not rows:
        raise ScoringError(f"{path}: no labelled comments")
    if max_examples is not None and max_examples < len(rows):
        keep = np.random.default_rng(seed).choice(len(rows), max_examples, replace=False)
        rows = [rows[i] for i in sorted(keep)]
    return [Example(text, "en", None, label=label, source="jigsaw") for text, label in rows]


def train(encoder_path: str | Path, examples: Sequence[Example], features: FeatureSpec, head: HeadSpec,
          folds: int, out_dir: str | Path, seed: int = 0, source_weights: dict[str, float] | None = None,
          batch_tokens: int = 2048, threads: int | None = None) -> LearnedHeads:
    """Compute features, fit the cross-fitted heads, write the artifact to out_dir; returns it (with timings)."""
    if not examples:
        raise ScoringError("learned scorer: no training examples (configure RTP-LX labels and/or Jigsaw)")
    started = time.perf_counter()
    encoder = Encoder(encoder_path, features, batch_tokens=batch_tokens, threads=threads)
    info = describe(encoder_path)
    x = encoder.features([e.text for e in examples])
    feature_s = time.perf_counter() - started
    weights = np.array([(source_weights or {}).get(e.source, 1.0) for e in examples])
    heads, trained, oof, fold = fit_crossfitted(x, examples, head, folds, seed, weights)
    counts = Counter(f"{e.source}:{e.lang}" for e in examples)
    model = LearnedHeads(
        encoder=info, features=features, head=head, folds=folds, seed=seed, heads=heads,
        trained_ids=trained, oof=oof_records(examples, oof, fold),
        training={"examples": dict(sorted(counts.items())), "source_weights": source_weights or {},
                  "seconds": {"features": round(feature_s, 1), "total": round(time.perf_counter() - started, 1)}},
    )
    save(model, out_dir)
    log.info("learned scorer: %d examples, %d head(s), features %.0f s, total %.0f s -> %s", len(examples),
             len(heads), feature_s, time.perf_counter() - started, out_dir)
    return model
