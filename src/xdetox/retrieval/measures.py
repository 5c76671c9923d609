"""Retrieval measures between English and language X, per layer and averaged over layers (paper §5, App. E).

For layer l, with E = English and X = language-X sentence representations (row i of each is the same sentence) and
S = cosine similarity of every English row against every X row:

- ``acc_en2x``: top-1 retrieval accuracy English -> X, the fraction of i with argmax_j S[i, j] == i, i.e. the true
  translation is the most similar of all n candidates (chance = 1/n). This is "bilingual sentence retrieval
  accuracy" as the paper's text describes it; Figure 4's x-axis is "Mean Retrieval Accuracy (en-x)".
- ``acc_x2en``: the same from X to English (argmax over the English candidates, argmax_i S[i, j] == j).
- ``acc_mean``: (acc_en2x + acc_x2en) / 2.
- ``paired_cosine``: mean over i of S[i, i], the cosine of each sentence with its own translation, with no ranking
  against distractors. This is **the reference code's "retrieval acc"** (xg/retrieval/retrieval_acc_load.py
  `avg_se_L`), reported beside the accuracies because it is what produced the paper's numbers: the paper's text
  says "sentence retrieval accuracy", its code prints a mean paired cosine.

Every "mean" value (suffix ``_avg`` in summaries) averages the per-layer values over all n_layers+1 hidden states,
embedding output included, as the reference does. Ties in argmax (measure-zero with real representations) resolve to
the lowest index.
"""

from __future__ import annotations

import numpy as np

from .. import XdetoxError

MEASURES = ("acc_en2x", "acc_x2en", "acc_mean", "paired_cosine")

#: config value of retrieval.measure -> the measure it selects
CONFIG_MEASURE = {
    "accuracy": "acc_en2x",
    "accuracy_x2en": "acc_x2en",
    "accuracy_mean": "acc_mean",
    "paired_cosine": "paired_cosine",
}

LABELS = {
    "acc_en2x": "Mean Retrieval Accuracy (en-x)",
    "acc_x2en": "Mean Retrieval Accuracy (x-en)",
    "acc_mean": "Mean Retrieval Accuracy (both directions)",
    "paired_cosine": "Mean Paired Cosine Similarity (en-x; reference 'retrieval acc')",
}

#: the same, short enough for a title line
SHORT_LABELS = {
    "acc_en2x": "top-1 accuracy en-x",
    "acc_x2en": "top-1 accuracy x-en",
    "acc_mean": "top-1 accuracy (both directions)",
    "paired_cosine": "paired cosine",
}


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cosine_matrix(en: np.ndarray, x: np.ndarray) -> np.ndarray:
    """[n, d], [m, d] (or with a leading layer axis) -> cosine similarities [n, m] (or [layers, n, m])."""
    return _normalise(en) @ np.swapaxes(_normalise(x), -1, -2)


def layer_measures(en: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-layer measures for [layers, n, d] English and X representations of the same n aligned sentences."""
    en, x = np.asarray(en), np.asarray(x)
    if en.ndim == 2:
        en, x = en[None], x[None]
    if en.shape != x.shape:
        raise XdetoxError(f"English and X representations differ in shape: {en.shape} vs {x.shape} "
                          "(same model and the same aligned sentences are needed)")
    gold = np.arange(en.shape[1])
    acc_en2x, acc_x2en, paired = (np.empty(en.shape[0]) for _ in range(3))
    for layer in range(en.shape[0]):  # one [n, n] matrix at a time (NTREX: n ≈ 2,000)
        sims = cosine_matrix(en[layer], x[layer])
        acc_en2x[layer] = np.mean(sims.argmax(axis=1) == gold)
        acc_x2en[layer] = np.mean(sims.argmax(axis=0) == gold)
        paired[layer] = np.mean(np.diagonal(sims))
    return {"acc_en2x": acc_en2x, "acc_x2en": acc_x2en, "acc_mean": (acc_en2x + acc_x2en) / 2, "paired_cosine": paired}


def retrieval_measures(reps: dict[str, np.ndarray], pivot: str = "en") -> tuple[list[dict], dict[str, dict]]:
    """Per-layer rows {lang, layer, measures...} and a per-language summary {measure}_avg (mean over layers), for
    every language other than `pivot` against `pivot`."""
    if pivot not in reps:
        raise XdetoxError(f"no {pivot} representations: retrieval is measured against {pivot}")
    rows, summary = [], {}
    for lang in reps:
        if lang == pivot:
            continue
        per_layer = layer_measures(reps[pivot], reps[lang])
        n_layers = len(per_layer["acc_en2x"])
        for layer in range(n_layers):
            rows.append({"lang": lang, "layer": layer, **{m: float(per_layer[m][layer]) for m in MEASURES}})
        summary[lang] = {
            **{f"{m}_avg": float(np.mean(per_layer[m])) for m in MEASURES},
            **{f"{m}_by_layer": [float(v) for v in per_layer[m]] for m in MEASURES},
            "n_sentences": int(reps[lang].shape[1]),
            "n_layers": n_layers,
            "chance_accuracy": 1.0 / reps[lang].shape[1],
        }
    if not summary:
        raise XdetoxError(f"no language besides {pivot} to measure retrieval for")
    return rows, summary
