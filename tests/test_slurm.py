"""The tiny workflow through profiles/slurm on a real single-node Slurm (tests/slurm/start_slurm.sh).

Skipped unless Slurm answers (CI starts it; locally: sudo tests/slurm/start_slurm.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, tiny_workflow_config, write_config

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


def slurm_up() -> bool:
    if not shutil.which("scontrol"):
        return False
    out = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return "is UP" in out.stdout


def slurm_jobs() -> list[dict]:
    """Every job the controller still remembers (MinJobAge keeps finished ones), as key=value dicts."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout
    jobs = []
    for line in out.splitlines():
        if line.startswith("JobId="):
            jobs.append(dict(field.split("=", 1) for field in line.split() if "=" in field))
    return jobs


@pytest.mark.skipif(not slurm_up(), reason="no Slurm controller answering (run tests/slurm/start_slurm.sh as root)")
def test_tiny_workflow_runs_through_sbatch(tmp_path, tiny_model_dir, shared_data):
    write_config(tmp_path / "config.yaml", tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=("en",)))
    before = {job["JobId"] for job in slurm_jobs()}
    cmd = [
        str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
        "--configfile", str(tmp_path / "config.yaml"), "--profile", str(REPO / "profiles" / "slurm"),
        # a test cluster: no accounts, no accounting database (status from squeue), one partition
        "--slurm-no-account", "--slurm-status-command", "squeue", "--default-resources", "slurm_partition=debug",
        "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs", "--jobs", "4",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    new = [job for job in slurm_jobs() if job["JobId"] not in before]
    assert new, "no job reached the Slurm controller"
    assert all(job["JobState"] == "COMPLETED" for job in new), [(j["JobId"], j["JobState"]) for j in new]
    # one sbatch per workflow job (rule all is local): prompts, pairs, dpo, 2 generate, 2 score, 2 metrics, table, figure
    rules = sorted(json.loads(j.get("Comment", "{}")).get("rule", "") if j.get("Comment", "").startswith("{") else j.get("Comment", "") for j in new)
    assert len(new) >= 11, rules
    for target in ("tables/lexicon/tiny/table2.csv", "figures/lexicon/tiny/figure1.png",
                   "generations/tiny/dpo/en.jsonl", "metrics/lexicon/tiny/base/en.json"):
        assert (tmp_path / "results" / target).exists(), target
    assert list((tmp_path / "logs" / "slurm").rglob("*.log")), "no Slurm job logs under logs/slurm"
