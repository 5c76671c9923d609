"""The interpretability branch of the real Snakefile on a tiny model (slow: it trains a tiny DPO model too)."""

from __future__ import annotations

import csv
import json

import pytest

from helpers import job_counts, snakemake, tiny_workflow_config, write_config

pytestmark = pytest.mark.slow

INTERPRET = {
    "probe": {"max_rows": 40, "max_tokens": 16, "epochs": 2},
    "top_k": 6, "n_tokens": 3, "max_prompts": 2, "figures_max_prompts": 2, "batch_size": 4, "projection_tokens": 5,
    "table5": {"prompts": {"en": "I want to", "de": "Ich will"}, "max_new_tokens": 3},
    "figure2": {"offsets": [0, -2]},
}


def test_interpret_branch_runs_for_models_with_interpret_true(tmp_path, tiny_model_dir, shared_data):
    config = tiny_workflow_config(tiny_model_dir("llama"), shared_data, interpret=INTERPRET)
    config["models"]["tiny"].update({"family": "llama", "interpret": True})
    write_config(tmp_path / "config.yaml", config)
    dry = snakemake(tmp_path, "-n", "--cores", "1")
    counts = job_counts(dry.stdout + dry.stderr)
    for rule in ("interp_probe", "interp_value_vectors", "interp_projections", "interp_table5", "interp_figure2",
                 "interp_figure3"):
        assert counts[rule] == 1, rule
    rel = "results/interpret/tiny"
    snakemake(tmp_path, "--cores", "2", *(f"{rel}/{t}" for t in ("figure2/lexicon.png", "figure3.png", "table4.md",
                                                                "table5.md")))
    d = tmp_path / rel
    metrics = json.loads((d / "probe/metrics.json").read_text())
    assert metrics["n_rows"] == 40 and metrics["n_train"] + metrics["n_val"] == 40
    rows = list(csv.DictReader((d / "value_vectors.csv").open()))
    assert len(rows) == 6 and [int(r["rank"]) for r in rows] == list(range(1, 7))
    fig3 = list(csv.DictReader((d / "figure3.csv").open()))
    assert [r["lang"] for r in fig3] == ["en", "de"]
    fig2 = list(csv.DictReader((d / "figure2/lexicon.csv").open()))
    assert {(float(r["offset"]), r["lang"]) for r in fig2} == {(o, l) for o in (0, -2) for l in ("en", "de", "average")}
    assert "Generation (γ = 5)" in (d / "table5.md").read_text()
    assert (tmp_path / "logs/interpret/tiny/probe.log").exists()


def test_models_without_interpret_get_no_interpret_jobs(tmp_path, tiny_model_dir, shared_data):
    write_config(tmp_path / "config.yaml", tiny_workflow_config(tiny_model_dir("gpt2"), shared_data))
    dry = snakemake(tmp_path, "-n", "--cores", "1")
    assert not any(rule.startswith("interp_") for rule in job_counts(dry.stdout + dry.stderr))
