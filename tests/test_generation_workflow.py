"""Snakemake: one model load per (model, stage) in a full generation run, while a single-language rerun touches only
that language; editing code outside generation (reports, language identification) resamples nothing.

Assertions read the stage manifests and the cache entries' metadata (which languages one compute call sampled:
one call is one model load), never log wording.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import REPO, job_counts, snakemake, tiny_workflow_config, write_config
from xdetox.cache import ContentCache

pytestmark = pytest.mark.slow
LANGS = ("en", "de")


def run(workdir: Path, *args: str, **kwargs) -> dict[str, int]:
    proc = snakemake(workdir, "--cores", "2", *args, **kwargs)
    return job_counts(proc.stdout + proc.stderr)


def targets(stages=("base",), langs=LANGS):
    return [f"results/generations/tiny/{s}/{lang}.jsonl" for s in stages for lang in langs]


def manifest(workdir: Path, stage: str = "base") -> dict:
    return json.loads((workdir / f"results/generations/tiny/{stage}/manifest.json").read_text())


def entries(workdir: Path, stage: str = "base") -> dict[str, dict]:
    """lang -> metadata of every cache entry of the (tiny, stage) namespace (several per language over time)."""
    cache = ContentCache(workdir / "resources/cache/generation", f"tiny/{stage}")
    out: dict[str, dict] = {}
    for lang in LANGS:
        for meta in sorted((cache.root / lang).glob("*.json")) if (cache.root / lang).is_dir() else []:
            out.setdefault(lang, {})[meta.stem] = {**cache.meta(lang, meta.stem),
                                                   "mtime": cache.path(lang, meta.stem).stat().st_mtime_ns}
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_model_dir, shared_data):
    """Both stages generated once, the plan of that run kept in `first_run.json`."""
    workdir = tmp_path_factory.mktemp("genwf")
    write_config(workdir / "config.yaml", tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=LANGS))
    counts = run(workdir, *targets(("base", "dpo")))
    (workdir / "first_run.json").write_text(json.dumps(counts))
    return workdir


def edit_prompts(workdir: Path, lang: str, text: str) -> None:
    path = workdir / f"resources/data/prompts/{lang}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["text"] = text
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def test_one_model_load_per_model_and_stage(workdir):
    counts = json.loads((workdir / "first_run.json").read_text())
    # stage_input: the two RTP-LX files and ParaDetox, copied from the data folder by content
    assert counts == {"stage_input": 3, "prompts": 2, "pairs": 1, "dpo": 1, "generate_stage": 2, "generate": 4}
    for stage in ("base", "dpo"):
        m = manifest(workdir, stage)
        assert m["model_loads"] == 1 and all(v["sampled"] for v in m["languages"].values())
        for lang, by_key in entries(workdir, stage).items():
            (meta,) = by_key.values()
            assert meta["computed_with"] == ["de", "en"]  # every language of the stage in one compute call
            records = [json.loads(line) for line in (workdir / f"results/generations/tiny/{stage}/{lang}.jsonl")
                       .read_text().splitlines()]
            assert len(records) == 3 * 3 and meta["n_records"] == 9
    assert run(workdir, "-n", *targets(("base", "dpo"))) == {}


def test_forced_single_language_rerun_rewrites_only_that_language(workdir):
    en, de = (workdir / t for t in targets())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (en, de)}
    cached = entries(workdir)
    assert run(workdir, "-f", targets()[0]) == {"generate": 1}
    assert en.stat().st_mtime_ns != before[en][1] and en.read_bytes() == before[en][0]  # the same bytes again
    assert de.stat().st_mtime_ns == before[de][1]
    assert entries(workdir) == cached  # copied from the cache: nothing sampled

    # with its cache entry gone, the forced language is sampled again, alone
    shutil.rmtree(workdir / "resources/cache/generation/tiny/base/en")
    assert run(workdir, "-f", targets()[0]) == {"generate": 1}
    after = entries(workdir)
    assert [meta["computed_with"] for meta in after["en"].values()] == [["en"]]
    assert after["de"] == cached["de"]
    assert en.read_bytes() == before[en][0] and de.stat().st_mtime_ns == before[de][1]


def test_changed_prompts_of_one_language_resample_only_it(workdir):
    en, de = (workdir / t for t in targets())
    en_before = (en.read_bytes(), en.stat().st_mtime_ns)
    de_before = de.read_bytes()
    cached = entries(workdir)
    edit_prompts(workdir, "de", "Das ist ein neuer Prompt und")
    assert run(workdir, *targets()) == {"generate": 1}
    after = entries(workdir)
    new = {key: meta for key, meta in after["de"].items() if key not in cached["de"]}
    assert [meta["computed_with"] for meta in new.values()] == [["de"]]
    assert after["en"] == cached["en"]
    assert (en.read_bytes(), en.stat().st_mtime_ns) == en_before
    assert de.read_bytes() != de_before and "Das ist ein neuer Prompt und" in de.read_text()


def test_every_prompts_file_remade_still_loads_the_model_once(workdir):
    cached = entries(workdir)
    edit_prompts(workdir, "de", "Noch ein neuer Prompt")
    edit_prompts(workdir, "en", "Yet another new prompt")
    # two language jobs at once (--cores 2): one samples both in one model load, the other waits and copies
    assert run(workdir, *targets()) == {"generate": 2}
    after = entries(workdir)
    for lang in LANGS:
        new = [meta for key, meta in after[lang].items() if key not in cached[lang]]
        assert [meta["computed_with"] for meta in new] == [["de", "en"]]
    assert run(workdir, "-n", *targets()) == {}


def test_editing_report_or_language_id_code_resamples_nothing(tmp_path, tiny_model_dir, shared_data):
    """A copy of the workflow whose report and language-ID code is then edited: rerunning the generation stage
    copies every language from the cache (no model load); editing generation code resamples (the control)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO / "Snakefile", repo)
    for part in ("workflow", "src", "envs"):
        shutil.copytree(REPO / part, repo / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    work = tmp_path / "work"
    work.mkdir()
    write_config(work / "config.yaml", tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=LANGS))
    env = {"PYTHONPATH": str(repo / "src")}
    outputs = targets() + [f"results/langid/tiny/base/{lang}.jsonl" for lang in LANGS]

    def rerun_stage() -> dict:
        # the targets before -R: --forcerun takes every following word as a rule name
        run(work, *outputs, "-R", "generate_stage", snakefile=repo / "Snakefile", env=env)
        return manifest(work)

    assert rerun_stage()["model_loads"] == 1
    src = repo / "src/xdetox"
    for path in (src / "langid.py", src / "report/langid.py", src / "report/render.py", src / "report/figures.py"):
        path.write_text(path.read_text() + "\n# an edit outside generation\n")
    again = rerun_stage()
    assert again["model_loads"] == 0 and not any(v["sampled"] for v in again["languages"].values())
    (src / "generation/hf.py").write_text((src / "generation/hf.py").read_text() + "\n# an edit of generation\n")
    control = rerun_stage()
    assert control["model_loads"] == 1 and all(v["sampled"] for v in control["languages"].values())
