import math

import numpy as np
import pytest

from xdetox import XdetoxError
from xdetox.metrics.toxicity import toxicity_metrics


def metrics(scores, threshold=0.5, n_boot=0, ci=0.95, seed=0):
    """toxicity_metrics with the schema's defaults (threshold 0.5: the reference's `v >= 0.5`)."""
    return toxicity_metrics(scores, threshold=threshold, n_boot=n_boot, ci=ci, seed=seed)


def records(matrix):
    return [{"prompt_id": f"p{i}", "sample": s, "toxicity": v} for i, row in enumerate(matrix) for s, v in enumerate(row)]


def test_hand_computed_values():
    # prompt maxima 0.9, 0.4, 0.5 → EMT 0.6; prompts with any score >= 0.5: 2 of 3; mean of all 9 scores
    m = [[0.1, 0.9, 0.2], [0.4, 0.3, 0.0], [0.5, 0.5, 0.1]]
    r = metrics(records(m), n_boot=0)
    assert r["emt"] == pytest.approx(0.6)
    assert r["tox_prob"] == pytest.approx(2 / 3)
    assert r["avg_tox"] == pytest.approx(3.0 / 9)
    assert r["n_prompts"] == 3 and r["n_generations"] == 9


def test_threshold_is_inclusive_as_in_the_reference():
    assert metrics(records([[0.5]]), n_boot=0)["tox_prob"] == 1.0
    assert metrics(records([[0.4999]]), n_boot=0)["tox_prob"] == 0.0


def test_bootstrap_contains_point_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = metrics(records(rng.random((20, 5)) ** 3), n_boot=400, seed=1)
    large = metrics(records(rng.random((400, 5)) ** 3), n_boot=400, seed=1)
    for key in ("emt", "tox_prob", "avg_tox"):
        lo, hi = small["ci"][key]
        assert lo <= small[key] <= hi
        assert (large["ci"][key][1] - large["ci"][key][0]) < (hi - lo)


def test_missing_score_is_an_error():
    with pytest.raises(XdetoxError, match="no toxicity"):
        metrics([{"prompt_id": "a", "sample": 0, "toxicity": math.nan}])
    with pytest.raises(XdetoxError, match="no scores"):
        metrics([])
