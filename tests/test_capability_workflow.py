"""Table 3 through the real Snakefile on a tiny model: local Okapi-layout fixtures with planted answer keys, the
`capability` jobs for base and DPO, and `table3` (the planted accuracy must come out of the rules unchanged)."""

from __future__ import annotations

import csv
import json

import pytest

from capability_fixtures import arc_rows, hellaswag_zh_rows, jsonl
from helpers import PNG, job_counts, planned_outputs, snakemake, tiny_workflow_config, write_config

pytest.importorskip("lm_eval")

# planted right answers out of 10: the harness's arc_zh and the project's hellaswag_zh
PLANTED = {"arc": 6, "hellaswag": 7}
CAPABILITY = {
    "languages": ["zh-hans"],
    "benchmarks": {"arc": {"num_fewshot": 2, "metric": "acc"}, "hellaswag": {"metric": "acc"}},
    "device": "cpu", "dtype": "float32", "batch_size": 8,
}


def okapi_folder(root):
    jsonl(root / "m_arc" / "zh" / "test.jsonl", arc_rows(10, PLANTED["arc"]))
    jsonl(root / "m_arc" / "zh" / "train.jsonl", arc_rows(4, 4))
    jsonl(root / "m_hellaswag" / "zh" / "val.jsonl", hellaswag_zh_rows(10, PLANTED["hellaswag"]))
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
    target = "results/tables/table3.md"
    dry = snakemake(workdir, "-n", "--cores", "1", target)
    snakemake(workdir, "--cores", "2", target, env={"OMP_NUM_THREADS": "1"})
    return workdir, dry.stdout + dry.stderr


def test_plan_is_one_job_per_stage_benchmark_and_language(table3_run):
    counts = job_counts(table3_run[1])
    assert counts["capability"] == 2 * 2 and counts["table3"] == 1 and counts["dpo"] == 1


def test_table3_carries_the_planted_accuracy(table3_run):
    res = table3_run[0] / "results"
    for stage in ("base", "dpo"):
        for bench, n_right in PLANTED.items():
            rec = json.loads((res / f"capability/tiny/{stage}/{bench}/zh-hans.json").read_text())
            assert (rec["model"], rec["stage"], rec["data"], rec["n"]) == ("tiny", stage, "local", 10)
            assert rec["acc"] == pytest.approx(n_right / 10)
    arc = json.loads((res / "capability/tiny/base/arc/zh-hans.json").read_text())
    assert (arc["task"], arc["num_fewshot"], arc["split"], arc["fewshot_split"]) == ("arc_zh", 2, "test", "train")
    hs = json.loads((res / "capability/tiny/dpo/hellaswag/zh-hans.json").read_text())
    assert (hs["task"], hs["task_source"], hs["num_fewshot"]) == ("hellaswag_zh", "xdetox", 0)
    md = (res / "tables/table3.md").read_text()
    # 60% ± √(0.24/9) and 70% ± √(0.21/9), before and after (the planted key does not depend on the weights)
    assert ("| zh | 60.00 ± 16.33 | 60.00 ± 16.33 | +0.00 ± 23.09 | 70.00 ± 15.28 | 70.00 ± 15.28 | "
            "+0.00 ± 21.60 |") in md
    assert "the local folder data.capability.local_dir" in md
    rows = list(csv.DictReader((res / "tables/table3.csv").open()))
    assert {(r["benchmark"], r["metric"]) for r in rows} == {(b, m) for b in PLANTED for m in ("acc", "acc_norm")}
    assert r"\begin{tabular}" in (res / "tables/table3.tex").read_text()
    paper = (res / "tables/table3_paper_comparison.md").read_text()
    assert "| Tiny | BLOOM (7.1B) | ARC | zh | acc | 60.00 / 37.18 | 60.00 / 37.78 | +0.00 / +0.60 |" in paper
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


def test_without_a_local_folder_table3_is_skipped(tmp_path, tiny_model_dir, shared_data):
    config = capability_config(tiny_model_dir, shared_data, tmp_path)
    config["data"].pop("capability")
    write_config(tmp_path / "config.yaml", config)
    assert not any("capability" in p or "table3" in p for p in planned_outputs(tmp_path))
