"""Retrieval measures on constructed representations where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from xdetox import XdetoxError
from xdetox.retrieval.measures import CONFIG_MEASURE, MEASURES, layer_measures, retrieval_measures


def _reps(layers=3, n=50, d=32, seed=0):
    return np.random.default_rng(seed).standard_normal((layers, n, d)).astype(np.float32)


def test_identity_alignment_gives_accuracy_one():
    en = _reps()
    x = en + 0.01 * _reps(seed=1)  # the same sentences, slightly perturbed
    m = layer_measures(en, x)
    np.testing.assert_array_equal(m["acc_en2x"], 1.0)
    np.testing.assert_array_equal(m["acc_x2en"], 1.0)
    assert np.all(m["paired_cosine"] > 0.99)


def test_shuffled_language_is_about_chance():
    n = 200
    en = _reps(layers=2, n=n, d=64)
    perm = np.random.default_rng(3).permutation(n)
    m = layer_measures(en, en[:, perm])  # line i of "x" is the translation of some other line
    fixed_points = np.mean(perm == np.arange(n))  # the only lines still paired correctly
    np.testing.assert_allclose(m["acc_en2x"], fixed_points)
    np.testing.assert_allclose(m["acc_x2en"], fixed_points)
    assert np.all(m["acc_en2x"] <= 5 / n)
    unrelated = layer_measures(en, _reps(layers=2, n=n, d=64, seed=9))
    assert np.all(unrelated["acc_en2x"] <= 10 / n) and np.all(np.abs(unrelated["paired_cosine"]) < 0.05)


def test_partially_correct_alignment_counts_each_direction():
    en = _reps(layers=1, n=10, d=64)
    x = en.copy()
    x[0, [0, 1]] = x[0, [1, 0]]  # swap two translations: 8 of 10 retrieved in both directions
    m = layer_measures(en, x)
    assert m["acc_en2x"][0] == pytest.approx(0.8) and m["acc_x2en"][0] == pytest.approx(0.8)


def test_paired_cosine_matches_the_reference_computation():
    torch = pytest.importorskip("torch")
    en, x = _reps(layers=4, n=30), _reps(layers=4, n=30, seed=5)
    # the reference's avg_se_L: per layer, mean of cosine_similarity over aligned pairs; then mean over layers
    per_layer = [torch.nn.functional.cosine_similarity(torch.tensor(en[i]), torch.tensor(x[i]), dim=1).mean().item()
                 for i in range(4)]
    m = layer_measures(en, x)
    np.testing.assert_allclose(m["paired_cosine"], per_layer, rtol=1e-5, atol=1e-6)
    _, summary = retrieval_measures({"en": en, "de": x})
    assert summary["de"]["paired_cosine_avg"] == pytest.approx(float(np.mean(per_layer)), abs=1e-6)


def test_summary_and_rows_cover_every_layer_and_language():
    en = _reps(layers=3, n=20)
    reps = {"en": en, "de": en + 0.01 * _reps(layers=3, n=20, seed=1), "fr": _reps(layers=3, n=20, seed=2)}
    rows, summary = retrieval_measures(reps)
    assert set(summary) == {"de", "fr"} and len(rows) == 2 * 3
    assert set(MEASURES) <= set(rows[0])
    assert summary["de"]["acc_en2x_avg"] == 1.0 and summary["de"]["n_layers"] == 3
    assert summary["fr"]["chance_accuracy"] == pytest.approx(1 / 20)
    assert summary["de"]["acc_mean_avg"] == pytest.approx((summary["de"]["acc_en2x_avg"] + summary["de"]["acc_x2en_avg"]) / 2)
    assert set(CONFIG_MEASURE.values()) == set(MEASURES)


def test_errors_name_the_problem():
    with pytest.raises(XdetoxError, match="no en representations"):
        retrieval_measures({"de": _reps()})
    with pytest.raises(XdetoxError, match="differ in shape"):
        layer_measures(_reps(n=10), _reps(n=11))
