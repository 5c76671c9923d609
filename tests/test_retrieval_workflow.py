"""The retrieval rules in the real Snakefile on a tiny model (2 languages, 6 sentences)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from helpers import job_counts, planned_outputs, snakemake, tiny_workflow_config, write_config


@pytest.mark.slow
def test_retrieval_rules_run_on_a_tiny_model(tmp_path, tiny_model_dir, shared_data):
    config = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, languages=["de", "fr"],
                                  retrieval={"max_sentences": 6, "batch_size": 4})
    config["models"]["tiny"]["retrieval"] = True
    write_config(tmp_path / "config.yaml", config)
    dry = snakemake(tmp_path, "-n", "--cores", "1")
    counts = job_counts(dry.stdout + dry.stderr)
    assert counts["retrieval_representations"] == 1 and counts["retrieval_figure4"] == 1
    snakemake(tmp_path, "--cores", "2", "results/retrieval/tiny/measures.json")
    res = tmp_path / "results/retrieval/tiny"
    # English is added as the retrieval pivot although it is not a configured language
    for lang in ("en", "de", "fr"):
        with np.load(res / f"representations/{lang}.npz") as data:
            assert data["hidden"].shape == (3, 6, 32)
    summary = json.loads((res / "measures.json").read_text())["languages"]
    assert set(summary) == {"de", "fr"} and summary["de"]["n_sentences"] == 6
    rows = list(csv.DictReader((res / "measures.csv").open()))
    assert len(rows) == 2 * 3 and (res / "layers.png").exists()
    assert planned_outputs(tmp_path, "results/retrieval/tiny/measures.json") == set()
