"""The evaluation rules in the real Snakefile on a tiny model: two DPO seeds, two learning rates, full vs LoRA,
fluency and diversity, Tables 1 and 2, Figures 1 (seed-averaged), 10, 11 and 12, the paper comparison, the report."""

from __future__ import annotations

import csv
import json

import pytest

from helpers import PNG, job_counts, snakemake, tiny_workflow_config, write_config



@pytest.fixture(scope="module")
def eval_run(tmp_path_factory, tiny_model_dir, shared_data):
    workdir = tmp_path_factory.mktemp("eval-wf")
    config = tiny_workflow_config(
        tiny_model_dir("gpt2"), shared_data, langs=("en", "de"),
        evaluation={"bootstrap": {"n": 50}, "table1": {"languages": ["en", "de"], "n_prompts": 1},
                    "figure12": {"model": "tiny", "compare_method": "lora"}},
    )
    config["data"]["prompts"]["max_prompts_per_lang"] = 2
    tiny = config["models"]["tiny"]
    tiny["paper_reference"] = "mgpt-1.3b"
    tiny["dpo"].update(seeds=[0, 1], learning_rates=[1.0e-6, 1.0e-5], max_steps=2, eval_steps=1)
    write_config(workdir / "config.yaml", config)
    dry = snakemake(workdir, "-n", "--cores", "1")
    snakemake(workdir, "--cores", "2")
    return workdir, dry.stdout + dry.stderr


@pytest.mark.slow
def test_plan_expands_seed_lr_and_method_stages(eval_run):
    _, dry = eval_run
    counts = job_counts(dry)
    # stages: base, dpo (seed 0, lr 1e-5), dpo-seed1, dpo-lr1e-06, dpo-lora
    assert counts["dpo"] == 4
    assert counts["generate"] == 5 * 2
    # fluency and diversity: one evaluator load per (model, stage), one output job per language;
    # the LoRA run only feeds Figure 12
    assert counts["quality_stage"] == 4 and counts["quality"] == 4 * 2
    for rule in ("table2", "table2_all", "table1", "seeds", "figure10", "figure11", "figure12", "paper_comparison"):
        assert counts[rule] == 1, rule


@pytest.mark.slow
def test_evaluation_outputs(eval_run):
    workdir, _ = eval_run
    res = workdir / "results"
    for stage in ("base", "dpo", "dpo-seed1", "dpo-lr1e-06"):
        for lang in ("en", "de"):
            summary = json.loads((res / f"fluency/tiny/{stage}/{lang}.json").read_text())
            assert summary["mode"] == "causal" and summary["n_total"] == 2 * 3
            values = [json.loads(line) for line in (res / f"fluency/tiny/{stage}/{lang}.jsonl").read_text().splitlines()]
            assert len(values) == 6
            div = json.loads((res / f"diversity/tiny/{stage}/{lang}.json").read_text())
            assert 0 < div["dist1"] <= 1 and div["n_prompts"] == 2
    rows = list(csv.DictReader((res / "tables/lexicon/table2.csv").open()))
    assert [r["stage"] for r in rows] == ["base", "dpo"]
    assert set(rows[0]) >= {"emt", "tox_prob", "avg_tox", "ppl", "dist1", "dist2", "dist3"}
    md = (res / "tables/lexicon/tiny/table2.md").read_text()
    assert "| Model | DPO | EMT | ToxProb | AvgTox | PPL | Dist-1 | Dist-2 | Dist-3 |" in md
    assert "not an independent judge" in md  # the evaluator is the model's own base checkpoint
    assert r"\begin{tabular}" in (res / "tables/lexicon/table2.tex").read_text()
    t1 = list(csv.DictReader((res / "tables/lexicon/table1.csv").open()))
    assert [r["lang"] for r in t1] == ["en", "de"]
    seeds = {r["metric"]: r for r in csv.DictReader((res / "tables/lexicon/tiny/seeds.csv").open())}
    assert seeds["emt"]["n_seeds"] == "2" and {"seed0", "seed1"} <= set(seeds["emt"])
    lr = list(csv.DictReader((res / "figures/lexicon/tiny/figure11.csv").open()))
    assert [r["stage"] for r in lr] == ["base", "dpo-lr1e-06", "dpo"] and lr[1]["ppl"]
    fig12 = list(csv.DictReader((res / "figures/lexicon/figure12.csv").open()))
    assert {r["run"] for r in fig12} == {"Pre DPO", "DPO (full fine-tuning)", "DPO (LoRA)"}
    assert "0.502" in (res / "tables/lexicon/paper_comparison.md").read_text()
    for png in ("figures/lexicon/tiny/figure1.png", "figures/lexicon/tiny/figure1_seeds.png",
                "figures/lexicon/tiny/figure11.png", "figures/lexicon/figure12.png", "figures/fluency/tiny/figure10.png"):
        assert (res / png).read_bytes()[:8] == PNG, png
    assert json.loads((res / "dpo/tiny/dpo-lora/summary.json").read_text())


@pytest.mark.slow
def test_html_report(eval_run):
    workdir, _ = eval_run
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text(encoding="utf-8", errors="replace")
    for text in ("Figure 11", "Figure 12", "Table 2", "Table 1", "DPO seeds", "Comparison with the paper",
                 "DPO training", "Language of continuations"):
        assert text in html, text
