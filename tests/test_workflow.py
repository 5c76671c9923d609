"""The real Snakefile, end to end, on a tiny model in 2 languages."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, tiny_workflow_config, write_config

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
           str(workdir / "config.yaml"), *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def job_counts(dry_run_output: str) -> dict[str, int]:
    table = dry_run_output.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, shared_data):
    workdir = tmp_path_factory.mktemp("wf")
    write_config(workdir / "config.yaml", tiny_workflow_config(tiny_model_dir("gpt2"), shared_data))
    dry = snakemake(workdir, "-n", "--cores", "1")
    snakemake(workdir, "--cores", "2")
    return workdir, dry.stdout + dry.stderr


def test_plan_has_one_generation_and_scoring_job_per_model_stage_language(finished_run):
    _, dry = finished_run
    counts = job_counts(dry)
    assert counts["generate"] == 1 * 2 * 2
    assert counts["score"] == 1 * 2 * 2 * 1
    assert counts["metrics"] == 4 and counts["dpo"] == 1 and counts["prompts"] == 2


def test_every_target_exists_and_parses(finished_run):
    workdir, _ = finished_run
    res = workdir / "results"
    for stage in ("base", "dpo"):
        for lang in ("en", "de"):
            gens = [json.loads(line) for line in (res / f"generations/tiny/{stage}/{lang}.jsonl").read_text().splitlines()]
            assert len(gens) == 3 * 3  # prompts × samples
            scores = [json.loads(line) for line in (res / f"scores/lexicon/tiny/{stage}/{lang}.jsonl").read_text().splitlines()]
            assert [(s["prompt_id"], s["sample"]) for s in scores] == [(g["prompt_id"], g["sample"]) for g in gens]
            metrics = json.loads((res / f"metrics/lexicon/tiny/{stage}/{lang}.json").read_text())
            assert 0 <= metrics["emt"] <= 1 and metrics["n_prompts"] == 3
    rows = list(csv.DictReader((res / "tables/lexicon/tiny/table2.csv").open()))
    assert [r["stage"] for r in rows] == ["base", "dpo"]
    assert "| Model | DPO | EMT | ToxProb | AvgTox |" in (res / "tables/lexicon/tiny/table2.md").read_text()
    for png in ("figures/lexicon/tiny/figure1.png", "dpo/tiny/dpo/training_curve.png"):
        assert (res / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curve = list(csv.DictReader((res / "dpo/tiny/dpo/training_curve.csv").open()))
    assert {r["split"] for r in curve} == {"train", "eval"}
    assert (res / "dpo/tiny/dpo/model/config.json").exists()
    assert not list(res.rglob("*.tmp")), "temporary files left behind"


def test_rerun_has_nothing_to_do(finished_run):
    workdir, _ = finished_run
    out = snakemake(workdir, "-n", "--cores", "1")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_lint_is_clean(finished_run):
    workdir, _ = finished_run
    out = snakemake(workdir, "--lint", check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_bad_config_stops_before_any_job(tmp_path, tiny_model_dir, shared_data):
    config = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, languages=["en", "klingon"])
    write_config(tmp_path / "config.yaml", config)
    out = snakemake(tmp_path, "-n", check=False)
    assert out.returncode != 0
    assert "config key languages[1]: unknown language code 'klingon'" in out.stdout + out.stderr
