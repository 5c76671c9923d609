"""Fluency and diversity through the cache: one evaluator load per (model, stage), per-language outputs."""

from __future__ import annotations

import json

import pytest

from helpers import config
from xdetox.io import read_jsonl, write_jsonl
from xdetox.steps import evaluate

FLUENCY = {**config()["evaluation"]["fluency"], "mode": "causal", "batch_size": 8, "max_samples_per_prompt": 2}
BOOT = {"n": 50, "ci": 0.95, "seed": 0}


def generations(path, lang, texts):
    write_jsonl(path, [{"prompt_id": str(p), "lang": lang, "sample": s, "prompt": f"Thank you for the {p}",
                        "text": t} for p in range(2) for s, t in enumerate(texts)])
    return str(path)


@pytest.fixture
def setup(tmp_path, tiny_model_dir, monkeypatch):
    model = str(tiny_model_dir("gpt2"))
    kinds = {"fluency": {"evaluator_dir": model, "settings": FLUENCY, "name": "tiny"},
             "diversity": {"evaluator_dir": model, "settings": {}, "name": "tiny"}}
    files = {"en": generations(tmp_path / "en.jsonl", "en", [" lovely dinner", " weather", ""]),
             "de": generations(tmp_path / "de.jsonl", "de", [" schöne Essen", " Danke", " x"])}
    loads = []  # one compute call = one evaluator load
    real = evaluate._Quality.compute

    def counting(self, missing):
        loads.append((self.kind, sorted(missing)))
        return real(self, missing)

    monkeypatch.setattr(evaluate._Quality, "compute", counting)
    return tmp_path, kinds, files, loads


def outputs(tmp_path, lang):
    return {"fluency_values": str(tmp_path / f"out/f-{lang}.jsonl"), "fluency_summary": str(tmp_path / f"out/f-{lang}.json"),
            "diversity_summary": str(tmp_path / f"out/d-{lang}.json")}


def test_stage_computes_all_languages_once_then_languages_hit_the_cache(setup):
    tmp_path, kinds, files, loads = setup
    cache = str(tmp_path / "cache")
    manifest = evaluate.quality_stage(kinds, files, str(tmp_path / "manifest.json"), cache, "m/base")
    assert loads == [("fluency", ["de", "en"]), ("diversity", ["de", "en"])]  # one evaluator load per kind
    assert all(v["computed"] for v in manifest["kinds"]["fluency"].values())
    for lang in files:
        out = outputs(tmp_path, lang)
        evaluate.quality(lang, files[lang], kinds, out, cache, "m/base", files, BOOT, {"model": "m", "stage": "base"})
        values = read_jsonl(out["fluency_values"])
        assert len(values) == 2 * 2  # max_samples_per_prompt
        summary = json.loads(open(out["fluency_summary"]).read())
        assert summary["mode"] == "causal" and summary["lang"] == lang and summary["n_total"] == 4
        assert summary["q1"] <= summary["median"] <= summary["q3"]
        div = json.loads(open(out["diversity_summary"]).read())
        assert div["n_prompts"] == 2 and 0 < div["dist1"] <= 1
    assert len(loads) == 2  # nothing recomputed
    # a rerun of the stage computes nothing
    manifest = evaluate.quality_stage(kinds, files, str(tmp_path / "manifest.json"), cache, "m/base")
    assert len(loads) == 2 and not any(v["computed"] for v in manifest["kinds"]["diversity"].values())


def test_changed_language_is_computed_alone(setup):
    tmp_path, kinds, files, loads = setup
    cache = str(tmp_path / "cache")
    evaluate.quality_stage(kinds, files, str(tmp_path / "manifest.json"), cache, "m/base")
    generations(files["de"], "de", [" ganz neu", " anders", " Text"])
    evaluate.quality("de", files["de"], kinds, outputs(tmp_path, "de"), cache, "m/base", files, BOOT, {})
    assert loads[2:] == [("fluency", ["de"]), ("diversity", ["de"])]
    changed = {**FLUENCY, "max_samples_per_prompt": 1}  # a value-changing setting: a new key
    kinds["fluency"]["settings"] = changed
    evaluate.quality("en", files["en"], kinds, outputs(tmp_path, "en"), cache, "m/base", files, BOOT, {})
    assert loads[4] == ("fluency", ["de", "en"])  # the miss computes the stage's other missing language too
    model = kinds["fluency"]["evaluator_dir"]
    batch_only = {**changed, "batch_size": 1}  # batching does not change values: same key
    assert evaluate._Quality("fluency", model, batch_only, 1).key("en", files["en"])[0] == \
        evaluate._Quality("fluency", model, changed, 1).key("en", files["en"])[0]
