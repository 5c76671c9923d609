"""Uncertainty: bootstrap intervals over prompts, and the DPO stage variants (seeds, learning-rate sweep, Figure 12)."""

from __future__ import annotations

import numpy as np
import pytest

from xdetox import XdetoxError
from xdetox.config import validate_config
from xdetox.metrics.toxicity import toxicity_metrics as _toxicity_metrics
from xdetox.stages import dpo_variants, figure12_runs, lr_stages, seed_stages, stage_hparams


def toxicity_metrics(scores, n_boot, ci=0.95, seed=0):
    return _toxicity_metrics(scores, threshold=0.5, n_boot=n_boot, ci=ci, seed=seed)


def scores(n_prompts, k=5, seed=0):
    rng = np.random.default_rng(seed)
    return [{"prompt_id": str(p), "sample": s, "toxicity": float(rng.beta(1, 4))}
            for p in range(n_prompts) for s in range(k)]


@pytest.mark.parametrize("key", ["emt", "tox_prob", "avg_tox"])
def test_bootstrap_interval_contains_the_point_estimate_and_shrinks_with_n(key):
    small = toxicity_metrics(scores(20), n_boot=500)
    large = toxicity_metrics(scores(500), n_boot=500)
    for m in (small, large):
        lo, hi = m["ci"][key]
        assert lo <= m[key] <= hi
    width = lambda m: m["ci"][key][1] - m["ci"][key][0]  # noqa: E731
    assert width(large) < width(small) / 2  # ~1/sqrt(25) = 1/5 in expectation


def test_bootstrap_is_seeded_and_configurable():
    a = toxicity_metrics(scores(30), n_boot=200, seed=1)
    b = toxicity_metrics(scores(30), n_boot=200, seed=1)
    assert a["ci"] == b["ci"]
    assert "ci" not in toxicity_metrics(scores(30), n_boot=0)
    narrow = toxicity_metrics(scores(30), n_boot=400, ci=0.5)
    wide = toxicity_metrics(scores(30), n_boot=400, ci=0.99)
    assert np.diff(narrow["ci"]["emt"]) < np.diff(wide["ci"]["emt"])


def config(dpo=None, evaluation=None, models=None):
    cfg = {"models": models or {"m": {"source": "hub", "id": "org/m", "dpo": dpo or {}}}}
    if evaluation:
        cfg["evaluation"] = evaluation
    return validate_config(cfg)


def test_no_variants_by_default():
    cfg = config()
    assert list(dpo_variants(cfg, "m")) == ["dpo"]
    assert stage_hparams(cfg, "m", "dpo")["seed"] == 0
    assert list(seed_stages(cfg, "m").items()) == [(0, "dpo")]
    assert list(lr_stages(cfg, "m").items()) == [(1e-5, "dpo")]


def test_seed_and_learning_rate_stages():
    cfg = config(dpo={"seeds": [3, 1, 2], "learning_rates": [1e-7, 5e-7, 1e-5, 5e-6]})
    assert list(dpo_variants(cfg, "m")) == ["dpo", "dpo-seed1", "dpo-seed2", "dpo-lr1e-07", "dpo-lr5e-07",
                                            "dpo-lr5e-06"]
    # the main run is seed seeds[0] at the main learning rate; no run is trained twice
    assert stage_hparams(cfg, "m", "dpo")["seed"] == 3
    assert stage_hparams(cfg, "m", "dpo-seed2")["seed"] == 2
    lr = stage_hparams(cfg, "m", "dpo-lr5e-07")
    assert lr["learning_rate"] == 5e-7 and lr["seed"] == 3
    assert "seeds" not in lr and "learning_rates" not in lr  # adding a seed does not change other runs' params
    assert list(seed_stages(cfg, "m").items()) == [(3, "dpo"), (1, "dpo-seed1"), (2, "dpo-seed2")]
    assert list(lr_stages(cfg, "m").items()) == [(1e-7, "dpo-lr1e-07"), (5e-7, "dpo-lr5e-07"),
                                                 (5e-6, "dpo-lr5e-06"), (1e-5, "dpo")]
    with pytest.raises(XdetoxError, match="no DPO stage"):
        stage_hparams(cfg, "m", "dpo-seed7")


def test_stage_names_fit_the_stage_wildcard():
    import re

    cfg = config(dpo={"seeds": [0, 11], "learning_rates": [1e-7, 0.0001, 2.5e-6]},
                 evaluation={"figure12": {"model": "m", "compare_method": "qlora"}})
    for stage in dpo_variants(cfg, "m"):
        assert re.fullmatch(r"base|dpo(-[A-Za-z0-9.+-]+)?", stage), stage


def test_figure12_compare_method_adds_a_stage():
    cfg = config(evaluation={"figure12": {"model": "m", "compare_method": "lora"}})
    assert list(dpo_variants(cfg, "m")) == ["dpo", "dpo-lora"]
    assert stage_hparams(cfg, "m", "dpo-lora")["method"] == "lora"
    assert figure12_runs(cfg) == [("m", "dpo"), ("m", "dpo-lora")]


def test_figure12_with_a_second_model():
    models = {"full": {"source": "hub", "id": "org/m"},
              "q": {"source": "hub", "id": "org/m", "dpo": {"method": "qlora"}}}
    cfg = config(models=models, evaluation={"figure12": {"model": "full", "compare_model": "q"}})
    assert figure12_runs(cfg) == [("full", "dpo"), ("q", "dpo")]
    assert list(dpo_variants(cfg, "q")) == ["dpo"]
    with pytest.raises(XdetoxError, match="figure12"):
        config(models=models, evaluation={"figure12": {"model": "full"}})
    with pytest.raises(XdetoxError, match="figure12.model"):
        config(models=models, evaluation={"figure12": {"model": "nope", "compare_model": "q"}})
