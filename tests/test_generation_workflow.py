"""Snakemake: one model load per (model, stage) in a full generation run, while a single-language rerun touches only
that language (its own file, and downstream only its own jobs)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, tiny_workflow_config, write_config

pytestmark = pytest.mark.slow
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
LANGS = ("en", "de")


def run(workdir: Path, *args: str) -> str:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
           str(workdir / "config.yaml"), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def jobs(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def model_loads(workdir: Path) -> int:
    """'loading model' lines in the generation logs (each job rewrites its own log)."""
    return sum(p.read_text().count("loading model") for p in (workdir / "logs" / "generations").rglob("*.log"))


def targets(stages=("base",), langs=LANGS):
    return [f"results/generations/tiny/{s}/{lang}.jsonl" for s in stages for lang in langs]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_model_dir, shared_data):
    workdir = tmp_path_factory.mktemp("genwf")
    write_config(workdir / "config.yaml", tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=LANGS))
    return workdir


def test_one_model_load_per_model_and_stage(workdir):
    out = run(workdir, *targets(("base", "dpo")))
    assert jobs(out) == {"prompts": 2, "pairs": 1, "dpo": 1, "generate_stage": 2, "generate": 4}
    assert model_loads(workdir) == 2  # base and dpo, every language of each in one load
    stage_log = (workdir / "logs/generations/tiny/base/stage.log").read_text()
    assert "2 to sample (en, de)" in stage_log
    for lang in LANGS:
        assert "generation cache hit" in (workdir / f"logs/generations/tiny/base/{lang}.log").read_text()
        records = [json.loads(line) for line in (workdir / targets()[LANGS.index(lang)]).read_text().splitlines()]
        assert len(records) == 3 * 3 and all("detected_lang" in r for r in records)
    manifest = json.loads((workdir / "results/generations/tiny/base/manifest.json").read_text())
    assert manifest["model_loads"] == 1 and all(v["sampled"] for v in manifest["languages"].values())
    assert "Nothing to be done" in run(workdir, "-n", *targets(("base", "dpo")))


def test_forced_single_language_rerun_rewrites_only_that_language(workdir):
    en, de = (workdir / t for t in targets())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (en, de)}
    out = run(workdir, "-f", targets()[0])
    assert jobs(out) == {"generate": 1}
    assert en.stat().st_mtime_ns != before[en][1] and en.read_bytes() == before[en][0]  # the same bytes again
    assert de.stat().st_mtime_ns == before[de][1]
    log = (workdir / "logs/generations/tiny/base/en.log").read_text()
    assert "generation cache hit" in log and "loading model" not in log

    # with its cache entry gone, the forced language is sampled again, alone: one load, one language
    shutil.rmtree(workdir / "resources/generation-cache/tiny/base/en")
    out = run(workdir, "-f", targets()[0])
    assert jobs(out) == {"generate": 1}
    log = (workdir / "logs/generations/tiny/base/en.log").read_text()
    assert log.count("loading model") == 1 and "for 3 prompts in en " in log
    assert en.read_bytes() == before[en][0] and de.stat().st_mtime_ns == before[de][1]


def edit_prompts(workdir: Path, lang: str, text: str) -> None:
    path = workdir / f"resources/data/prompts/{lang}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["text"] = text
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def test_changed_prompts_of_one_language_resample_only_it(workdir):
    en, de = (workdir / t for t in targets())
    en_before = (en.read_bytes(), en.stat().st_mtime_ns)
    de_before = de.read_bytes()
    edit_prompts(workdir, "de", "Das ist ein neuer Prompt und")
    out = run(workdir, *targets())
    assert jobs(out) == {"generate": 1}
    log = (workdir / "logs/generations/tiny/base/de.log").read_text()
    assert log.count("loading model") == 1 and "1 to sample (de)" in log
    assert (en.read_bytes(), en.stat().st_mtime_ns) == en_before
    assert de.read_bytes() != de_before and "Das ist ein neuer Prompt und" in de.read_text()


def test_every_prompts_file_remade_still_loads_the_model_once(workdir):
    edit_prompts(workdir, "de", "Noch ein neuer Prompt")
    edit_prompts(workdir, "en", "Yet another new prompt")
    out = run(workdir, *targets())  # two language jobs at once (--cores 2): one samples both, the other waits
    assert jobs(out) == {"generate": 2}
    logs = [(workdir / f"logs/generations/tiny/base/{lang}.log").read_text() for lang in LANGS]
    assert sum(log.count("loading model") for log in logs) == 1
    assert sum("2 to sample (en, de)" in log or "2 to sample (de, en)" in log for log in logs) == 1
    assert "Nothing to be done" in run(workdir, "-n", *targets())
