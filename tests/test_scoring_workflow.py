"""The learned scorer and the validation targets in the real Snakefile on a tiny model: train_scorer, score_stage
(one scorer load per stage), per-language score jobs served from the cache, scorer_validation and scorer_consistency
for both scorers, and Table 2's note naming the validation."""

from __future__ import annotations

import csv
import json

import pytest

from helpers import job_counts, planned_outputs, rewrite_first_prompt, snakemake, tiny_workflow_config, write_config

TARGETS = ["results/tables/learned/tiny/table2.md", "results/tables/lexicon/tiny/table2.md",
           *(f"results/validation/{scorer}/{kind}.png" for scorer in ("learned", "lexicon")
             for kind in ("validation", "consistency"))]


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory, tiny_model_dir, shared_data):
    workdir = tmp_path_factory.mktemp("learned-wf")
    config = tiny_workflow_config(tiny_model_dir("gemma"), shared_data, langs=("en", "de"))
    config["models"]["tiny"]["family"] = "gemma"
    config["data"]["prompts"]["max_prompts_per_lang"] = 2
    folder = workdir / "rtp-lx"  # a copy of the prompt files the last test edits
    folder.mkdir()
    for lang in ("EN", "DE"):
        (folder / f"RTP_LX_{lang}.json").write_bytes((shared_data / f"rtp-lx/v0.2_raw/RTP_LX_{lang}.json").read_bytes())
    config["data"]["prompts"]["path"] = str(folder)
    config["scoring"] = {
        "scorers": ["learned", "lexicon"],
        "learned": {"encoder": "tiny", "layers": [1], "l2": 10.0, "folds": 3, "threads": 1,
                    "training": {"rtplx": {"max_per_lang": 12}}},
        "validation": {"max_per_lang": 12, "n_boot": 20, "consistency_prompts": 10},
    }
    write_config(workdir / "config.yaml", config)
    dry = snakemake(workdir, "-n", "--cores", "1", *TARGETS)
    snakemake(workdir, "--cores", "2", *TARGETS)
    return workdir, dry.stdout + dry.stderr


@pytest.mark.slow
def test_learned_scorer_plan_and_outputs(learned_run):
    workdir, dry = learned_run
    counts = job_counts(dry)
    assert counts["train_scorer"] == 1
    assert counts["score_stage"] == 2  # learned only: the lexicon needs no scorer load to share
    assert counts["scorer_validation"] == 2 and counts["scorer_consistency"] == 2
    res = workdir / "results"
    manifest = json.loads((res / "scores/learned/tiny/base/manifest.json").read_text())
    assert manifest["stats"]["requests"] > 0
    for lang in ("en", "de"):
        scores = [json.loads(line) for line in (res / f"scores/learned/tiny/base/{lang}.jsonl").read_text().splitlines()]
        assert len(scores) == 2 * 3 and all(0 <= s["toxicity"] <= 1 and s["scorer"] == "learned" for s in scores)
    # the per-language jobs were served by the stage job's cache entries: no encoder pass of their own
    log = (workdir / "logs/scores/learned/tiny/base/en.log").read_text()
    assert "requests=0" in log
    for scorer in ("learned", "lexicon"):
        rows = list(csv.DictReader((res / f"validation/{scorer}/validation.csv").open(encoding="utf-8")))
        assert len(rows) == 17 and all(int(r["n"]) == 12 for r in rows)
        consistency = list(csv.DictReader((res / f"validation/{scorer}/consistency.csv").open(encoding="utf-8")))
        assert len(consistency) == 17 and all(int(r["n"]) == 10 for r in consistency)
    table2 = (res / "tables/learned/tiny/table2.md").read_text(encoding="utf-8")
    assert "Toxicity scorer `learned`: ROC-AUC against RTP-LX human ratings" in table2
    assert "Toxicity scorer `lexicon`" in table2


@pytest.mark.slow
def test_one_languages_new_prompts_rescore_only_that_language(learned_run):
    """Runs last in this module: it changes the German prompt file the run reads."""
    workdir, _ = learned_run
    assert planned_outputs(workdir, *TARGETS) == set()
    de = workdir / "rtp-lx" / "RTP_LX_DE.json"
    rewrite_first_prompt(de, "Ein ganz neuer Anfang")
    planned = planned_outputs(workdir, *TARGETS)
    scores = {p for p in planned if p.startswith("results/scores/")}
    assert scores == {f"results/scores/{scorer}/tiny/{stage}/de.jsonl" for scorer in ("learned", "lexicon")
                      for stage in ("base", "dpo")} | {f"results/scores/learned/tiny/{stage}/manifest.json"
                                                       for stage in ("base", "dpo")}
    assert not any("/en." in p for p in planned)
    assert not any(p.startswith(("resources/scorers", "results/validation")) for p in planned)
