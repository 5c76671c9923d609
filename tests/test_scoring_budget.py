"""The plan-time Perspective cost estimate and budget (xdetox.scoring.budget, wired in workflow/rules/common.smk)."""

from __future__ import annotations

import pytest

from xdetox import XdetoxError
from xdetox.scoring.budget import (RTPLX_PROMPTS, budget_message, describe, estimate, over_budget,
                                   prompts_per_language)
from helpers import snakemake, tiny_workflow_config, write_config


def test_paper_scale_is_months_at_one_request_per_second():
    # the paper's 21 (model, stage) pairs: mGPT base, dpo, 4 more seeds, 4 more learning rates; BLOOM-1.7B 3; 4 × 2
    per_stage = sum(prompts_per_language("v1x", lang, None) for lang in RTPLX_PROMPTS["v1x"]) * 25
    cost = estimate("Perspective API", [(per_stage, False)] * 21, rate=1.0)
    assert cost.requests == 9_620_625 and round(cost.hours / 24, 1) == 111.3
    assert over_budget(cost, 72) and not over_budget(cost, 3000)
    assert "9,620,625 requests in 21 job(s)" in describe(cost, "scoring.perspective.rate")
    assert "scoring.perspective.over_budget" in budget_message(cost, 72, "scoring.perspective")


def test_done_jobs_cost_nothing_and_the_cap_applies():
    cost = estimate("p", [(100, True), (50, False)], rate=10.0)
    assert (cost.requests, cost.jobs, cost.done) == (50, 1, 1)
    assert prompts_per_language("v0.2", "en", 5) == 5 and prompts_per_language("v0.2", "en", None, counted=7) == 7
    with pytest.raises(XdetoxError, match="data.prompts.release"):
        prompts_per_language("v9", "en", None)


@pytest.mark.slow
def test_plan_prints_the_estimate_and_a_real_run_over_budget_stops_before_any_job(tmp_path, tiny_model_dir,
                                                                                   shared_data):
    cfg = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=("en",),
                               scoring={"scorers": ["perspective"], "perspective": {"budget_hours": 0.0001}})
    write_config(tmp_path / "config.yaml", cfg)
    dry = snakemake(tmp_path, "-n", "--cores", "1", env={"PERSPECTIVE_API_KEY": "x"})
    text = dry.stdout + dry.stderr
    # 2 stages (base, dpo) × 1 language × 3 prompts × 3 samples
    assert "Perspective API: 18 requests in 2 job(s)" in text and "a real run stops here" in text
    run = snakemake(tmp_path, "--cores", "1", check=False, env={"PERSPECTIVE_API_KEY": "x"})
    assert run.returncode != 0 and "scoring.perspective.budget_hours" in run.stdout + run.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()
    warn = snakemake(tmp_path, "-n", "--cores", "1", "--config", 'scoring={"perspective": {"over_budget": "warn"}}',
                     env={"PERSPECTIVE_API_KEY": "x"})
    assert "a real run stops here" not in warn.stdout + warn.stderr
