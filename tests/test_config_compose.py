"""How configs compose: the embedded demo (config.yaml) applies only without --configfile (Snakefile guard)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from helpers import REPO, SNAKEMAKE, job_counts

pytestmark = pytest.mark.slow


def dry_run(workdir, *args):
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", "--cores", "1", *args]
    # the paper preset scores with Perspective: planning checks that a key is set (a dry run sends no request)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PERSPECTIVE_API_KEY": "planning-only"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return proc.returncode, proc.stdout + proc.stderr


def test_preset_is_the_whole_config(tmp_path, tiny_model_dir, shared_data):
    model = str(tiny_model_dir("gpt2"))
    base = {"languages": ["en"], "data": {"local_dir": str(shared_data), "prompts": {"max_prompts_per_lang": 2},
                                          "pairs": {"source": "paradetox", "max_pairs": 24}},
            "scoring": {"scorers": ["lexicon"]}, "generation": {"backend": "hf"}}
    # the working directory's config.yaml: a model and sections that must not leak into a preset run
    demo = {**base, "models": {"leak": {"source": "path", "path": model, "family": "gpt2"}},
            "interpret": {"table5": {"offset": 0.5}}, "retrieval": {"measure": "bleu"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(demo), encoding="utf-8")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(
        {**base, "models": {"tiny": {"source": "path", "path": model, "family": "gpt2"}}}), encoding="utf-8")
    rc, out = dry_run(tmp_path, "--configfile", str(tmp_path / "p.yaml"))
    assert rc == 0, out[-3000:]
    assert "model=tiny" in out and "model=leak" not in out
    # without --configfile the working directory's config.yaml is the config (here: invalid on purpose)
    rc, out = dry_run(tmp_path)
    assert rc != 0 and "retrieval.measure" in out


def test_paper_preset_from_the_repository_plans_only_the_six_models(tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    probe = tmp_path / "train.csv"
    probe.write_text('id,comment_text,toxic\n1,"a",0\n', encoding="utf-8")
    rc, out = dry_run(REPO, "--quiet", "rules", "--configfile", str(REPO / "configs" / "paper.yaml"), "--config",
                      f'data={{"pairs": {{"source": "toxicity-pairwise", "path": "{pairs}"}}}}',
                      f'interpret={{"probe": {{"path": "{probe}"}}}}')
    assert rc == 0, out[-3000:]
    counts = job_counts(out)
    assert counts["base_model"] == 6
    assert "gemma3-270m" not in out
