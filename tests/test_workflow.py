"""The real Snakefile, end to end, on a tiny model in 2 languages."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import yaml

from helpers import (PNG, REPO, job_counts, planned_outputs, rewrite_first_prompt, snakemake, tiny_workflow_config,
                     write_config)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, shared_data):
    workdir = tmp_path_factory.mktemp("wf")
    # a prompt folder of our own, so a test can change one language's prompts
    prompt_dir = workdir / "rtp-lx"
    prompt_dir.mkdir()
    for locale in ("EN", "DE"):
        shutil.copy(shared_data / f"rtp-lx/v0.2_raw/RTP_LX_{locale}.json", prompt_dir)
    config = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data)
    config["data"]["prompts"]["path"] = str(prompt_dir)
    write_config(workdir / "config.yaml", config)
    dry = snakemake(workdir, "-n", "--cores", "1")
    snakemake(workdir, "--cores", "2")
    return workdir, dry.stdout + dry.stderr


def test_plan_has_one_generation_and_scoring_job_per_model_stage_language(finished_run):
    _, dry = finished_run
    counts = job_counts(dry)
    assert counts["generate"] == 1 * 2 * 2 and counts["langid"] == 1 * 2 * 2
    assert counts["score"] == 1 * 2 * 2 * 1
    assert counts["metrics"] == 4 and counts["dpo"] == 1 and counts["prompts"] == 2


def test_every_target_exists_and_parses(finished_run):
    workdir, _ = finished_run
    res = workdir / "results"
    for stage in ("base", "dpo"):
        for lang in ("en", "de"):
            gens = [json.loads(line) for line in (res / f"generations/tiny/{stage}/{lang}.jsonl").read_text().splitlines()]
            assert len(gens) == 3 * 3  # prompts × samples
            keys = [(g["prompt_id"], g["sample"]) for g in gens]
            scores = [json.loads(line) for line in (res / f"scores/lexicon/tiny/{stage}/{lang}.jsonl").read_text().splitlines()]
            assert [(s["prompt_id"], s["sample"]) for s in scores] == keys
            langid = [json.loads(line) for line in (res / f"langid/tiny/{stage}/{lang}.jsonl").read_text().splitlines()]
            assert [(r["prompt_id"], r["sample"]) for r in langid] == keys
            metrics = json.loads((res / f"metrics/lexicon/tiny/{stage}/{lang}.json").read_text())
            assert 0 <= metrics["emt"] <= 1 and metrics["n_prompts"] == 3
    rows = list(csv.DictReader((res / "tables/lexicon/tiny/table2.csv").open()))
    assert [r["stage"] for r in rows] == ["base", "dpo"]
    assert "| Model | DPO | EMT | ToxProb | AvgTox |" in (res / "tables/lexicon/tiny/table2.md").read_text()
    assert "In-lang share" in (res / "tables/lexicon/tiny/table2.md").read_text()
    aware = list(csv.DictReader((res / "tables/lexicon/tiny/language_aware.csv").open()))
    assert [(r["stage"], r["lang"]) for r in aware] == [("base", "en"), ("base", "de"), ("dpo", "en"), ("dpo", "de")]
    parts = list(csv.DictReader((res / "tables/lexicon/tiny/language_aware_decomposition.csv").open()))
    assert {(r["lang"], r["metric"]) for r in parts} >= {("mean", "avg_tox"), ("mean", "tox_rate")}
    langid_rows = list(csv.DictReader((res / "tables/langid/tiny/langid.csv").open()))
    assert [(r["stage"], r["lang"]) for r in langid_rows] == [("base", "en"), ("base", "de"), ("dpo", "en"),
                                                               ("dpo", "de")]
    for png in ("figures/lexicon/tiny/figure1.png", "dpo/tiny/dpo/training_curve.png", "figures/langid/tiny/langid.png",
                "figures/lexicon/tiny/language_aware.png"):
        assert (res / png).read_bytes()[:8] == PNG
    curve = list(csv.DictReader((res / "dpo/tiny/dpo/training_curve.csv").open()))
    assert {r["split"] for r in curve} == {"train", "eval"}
    assert (res / "dpo/tiny/dpo/model/config.json").exists()
    assert not list(res.rglob("*.tmp")), "temporary files left behind"
    # every cache under resources/cache, every rule's wall time under benchmarks/
    assert {p.name for p in (workdir / "resources/cache").iterdir()} >= {"generation", "quality"}
    assert (workdir / "benchmarks/dpo/tiny/dpo.tsv").read_text().startswith("s\t")


def test_rerun_has_nothing_to_do(finished_run):
    workdir, _ = finished_run
    assert planned_outputs(workdir) == set()


def test_lint_is_clean(finished_run):
    workdir, _ = finished_run
    out = snakemake(workdir, "--lint", check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_changing_another_scorers_setting_reruns_nothing(finished_run):
    workdir, _ = finished_run
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["scoring"]["perspective"] = {"rate": 5.0}
    write_config(workdir / "config.yaml", config)
    assert planned_outputs(workdir) == set()


def test_the_same_data_in_another_folder_reruns_nothing(finished_run, tmp_path, shared_data):
    """Laptop to cluster, a renamed folder: a byte-identical copy of the data (fresh mtimes) at another path, through
    XDETOX_DATA_DIR and data.prompts.path, plans no job — DPO above all."""
    workdir, _ = finished_run
    staged = workdir / "resources/inputs"
    relpaths = [p.relative_to(staged / "data") for p in (staged / "data").rglob("*") if p.is_file()]
    assert relpaths, "the tiny workflow staged nothing from the data folder"
    moved = tmp_path / "moved-data"
    for relpath in relpaths:
        (moved / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / relpath, moved / relpath)  # copyfile: new mtimes, as a plain cp
    prompts = tmp_path / "moved-prompts"
    shutil.copytree(workdir / "rtp-lx", prompts, copy_function=shutil.copyfile)
    original = (workdir / "config.yaml").read_text()
    config = yaml.safe_load(original)
    config["data"]["local_dir"] = str(moved)
    config["data"]["prompts"]["path"] = str(prompts)
    write_config(workdir / "config.yaml", config)
    try:
        assert planned_outputs(workdir, env={"XDETOX_DATA_DIR": str(moved)}) == set()
    finally:
        (workdir / "config.yaml").write_text(original)


def test_changing_one_languages_prompts_reruns_only_that_language(finished_run):
    """Runs last in this module: it changes the German prompt file of the finished run."""
    workdir, _ = finished_run
    de = workdir / "rtp-lx" / "RTP_LX_DE.json"
    rewrite_first_prompt(de, "Ein ganz neuer Anfang")
    planned = planned_outputs(workdir)
    expected = {
        "resources/inputs/prompts/RTP_LX_DE.json", "resources/data/prompts/de.jsonl",
        "results/generations/tiny/base/de.jsonl", "results/generations/tiny/dpo/de.jsonl",
        "results/langid/tiny/base/de.jsonl", "results/langid/tiny/dpo/de.jsonl",
        "results/scores/lexicon/tiny/base/de.jsonl", "results/scores/lexicon/tiny/dpo/de.jsonl",
        "results/metrics/lexicon/tiny/base/de.json", "results/metrics/lexicon/tiny/dpo/de.json",
        "results/fluency/tiny/base/de.json", "results/fluency/tiny/base/de.jsonl",
        "results/fluency/tiny/dpo/de.json", "results/fluency/tiny/dpo/de.jsonl",
        "results/diversity/tiny/base/de.json", "results/diversity/tiny/dpo/de.json",
    }
    assert expected <= planned
    # nothing else of German, nothing of English, no retraining: only the tables and figures across languages
    others = planned - expected
    assert others and all(p.startswith(("results/tables/", "results/figures/")) for p in others), others


def test_jobs_import_the_xdetox_of_the_workflows_own_checkout(tmp_path, tiny_model_dir, shared_data):
    """A second clone runs its own code: its job imports its src/xdetox even with another checkout on PYTHONPATH
    (and this one installed editable in the environment)."""
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(REPO / "Snakefile", clone)
    for part in ("workflow", "src", "envs"):
        shutil.copytree(REPO / part, clone / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    # only jobs import xdetox.steps (planning does not): the clone's copy reports which xdetox the job imported
    steps = clone / "src/xdetox/steps/data.py"
    steps.write_text(steps.read_text() + "\nimport os as _os\nimport xdetox as _xdetox\n\n"
                     "with open(_os.environ['XDETOX_IMPORT_PROBE'], 'a', encoding='utf-8') as _probe:\n"
                     "    _probe.write(_xdetox.__file__ + '\\n')\n")
    work = tmp_path / "work"
    work.mkdir()
    write_config(work / "config.yaml", tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=("en",)))
    probe = tmp_path / "imported.txt"
    snakemake(work, "--cores", "1", "resources/data/prompts/en.jsonl", snakefile=clone / "Snakefile",
              env={"PYTHONPATH": str(REPO / "src"), "XDETOX_IMPORT_PROBE": str(probe)})
    imported = probe.read_text().splitlines()  # one line per job: the staging job and the prompts job
    assert len(imported) == 2 and set(imported) == {str(clone / "src/xdetox/__init__.py")}


def test_bad_config_stops_before_any_job(tmp_path, tiny_model_dir, shared_data):
    config = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, languages=["en", "klingon"])
    write_config(tmp_path / "config.yaml", config)
    out = snakemake(tmp_path, "-n", check=False)
    assert out.returncode != 0
    assert "config key languages[1]: unknown language code 'klingon'" in out.stdout + out.stderr
