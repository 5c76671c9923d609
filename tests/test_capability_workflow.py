"""Table 3 through the real Snakefile on a tiny model: local Okapi-layout fixtures with planted answer keys, the
`capability` jobs for base and DPO, and `table3` (the planted accuracy must come out of the rules unchanged)."""

from __future__ import annotations

import csv
import json

import pytest

from capability_fixtures import jsonl, mmlu_rows
from helpers import PNG, job_counts, planned_outputs, snakemake, tiny_workflow_config, write_config

pytest.importorskip("lm_eval")

# one task (each capability job imports the harness, ~25 s on a shared CPU): Okapi's full-text MMLU, a project task,
# 2-shot; 4 of its 10 test items are planted right
CAPABILITY = {
    "languages": ["zh-hans"], "benchmarks": {"mmlu_fulltext": {"num_fewshot": 2}},
    "device": "cpu", "dtype": "float32", "batch_size": 8,
}


def okapi_folder(root):
    jsonl(root / "m_mmlu" / "zh" / "test.jsonl", mmlu_rows(10, 4))
    jsonl(root / "m_mmlu" / "zh" / "train.jsonl", mmlu_rows(4, 4))
    return root


def capability_config(tiny_model_dir, shared_data, okapi, langs=("en",)):
    config = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=langs,
                                  evaluation={"capability": CAPABILITY})
    config["data"]["capability"] = {"local_dir": str(okapi)}  # enabled: null → on, because a local folder is set
    config["models"]["tiny"]["paper_reference"] = "bloom-7.1b"
    config["models"]["tiny"]["dpo"].update(max_steps=2, eval_steps=1)
    return config


@pytest.fixture(scope="module")
def table3_run(tmp_path_factory, tiny_model_dir, shared_data):
    workdir = tmp_path_factory.mktemp("table3-wf")
    okapi = okapi_folder(workdir / "okapi")
    write_config(workdir / "config.yaml", capability_config(tiny_model_dir, shared_data, okapi))
    # one thread per job, so the base stage's capability job runs beside DPO training (the critical path)
    run = snakemake(workdir, "--cores", "2", "results/tables/table3.md", "--set-threads", "capability=1", "dpo=1",
                    env={"OMP_NUM_THREADS": "1"})
    return workdir, run.stdout + run.stderr


@pytest.mark.slow
def test_plan_is_one_job_per_stage_benchmark_and_language(table3_run):
    counts = job_counts(table3_run[1])
    assert counts["capability"] == 2 and counts["table3"] == 1 and counts["dpo"] == 1


@pytest.mark.slow
def test_table3_carries_the_planted_accuracy(table3_run):
    res = table3_run[0] / "results"
    for stage in ("base", "dpo"):
        rec = json.loads((res / f"capability/tiny/{stage}/mmlu_fulltext/zh-hans.json").read_text())
        assert (rec["model"], rec["stage"], rec["data"], rec["n"], rec["acc"]) == ("tiny", stage, "local", 10, 0.4)
        assert (rec["task"], rec["task_source"], rec["num_fewshot"], rec["split"], rec["fewshot_split"]) == (
            "m_mmlu_fulltext_zh", "xdetox", 2, "test", "train")
    md = (res / "tables/table3.md").read_text()
    # 40% ± √(0.24/9) before and after: a planted key's accuracy does not depend on the weights
    assert "| zh | 40.00 ± 16.33 | 40.00 ± 16.33 | +0.00 ± 23.09 |" in md
    assert "MMLU (acc, 2-shot, test)" in md and "the local folder data.capability.local_dir" in md
    rows = list(csv.DictReader((res / "tables/table3.csv").open()))
    assert sorted(r["metric"] for r in rows) == ["acc", "acc_norm"]
    assert r"\begin{tabular}" in (res / "tables/table3.tex").read_text()
    paper = (res / "tables/table3_paper_comparison.md").read_text()
    assert "| tiny | BLOOM (7.1B) | MMLU | zh | acc | 40.00 / 29.04 | 40.00 / 29.47 | +0.00 / +0.43 |" in paper
    assert (res / "figures/table3.png").read_bytes()[:8] == PNG


def test_toxicity_change_of_shared_languages_feeds_the_figure(tmp_path, tiny_model_dir, shared_data):
    """With zh-hans also an RTP-LX language of the run, table3 waits for its toxicity metrics (both stages), and the
    paper comparison takes Table 3's numbers."""
    write_config(tmp_path / "config.yaml",
                 capability_config(tiny_model_dir, shared_data, okapi_folder(tmp_path / "okapi"), ("en", "zh-hans")))
    planned = planned_outputs(tmp_path, "results/tables/table3.md", "results/tables/lexicon/paper_comparison.md")
    assert {f"results/metrics/lexicon/tiny/{s}/zh-hans.json" for s in ("base", "dpo")} <= planned
    assert "results/metrics/lexicon/tiny/base/en.json" in planned  # Table 2's, for the paper comparison
    assert "results/tables/table3_paper_comparison.csv" in planned
