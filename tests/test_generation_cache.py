"""The content-addressed generation cache and the per-stage / per-language runner behind one-load-per-run."""

from __future__ import annotations

import os

import pytest

from xdetox.generation import base
from xdetox.generation.cache import GenerationCache, generation_key, model_fingerprint
from xdetox.generation.runner import ensure_languages, materialize_language
from xdetox.io import read_jsonl, write_jsonl

GENERATION = {"backend": "hf", "n_samples": 3, "max_new_tokens": 4, "batch_size": 2, "dtype": "float32", "seed": 0}
PROMPTS = {
    "en": [{"id": "0", "lang": "en", "text": "I hate you"}, {"id": "1", "lang": "en", "text": "Thank you for"}],
    "de": [{"id": "0", "lang": "de", "text": "Ich hasse dich"}],
    "zh-hans": [{"id": "0", "lang": "zh-hans", "text": "你好"}, {"id": "1", "lang": "zh-hans", "text": "谢谢你的"}],
}


@pytest.fixture
def setup(tmp_path, tiny_model_dir):
    files = {}
    for lang, prompts in PROMPTS.items():
        files[lang] = str(tmp_path / "prompts" / f"{lang}.jsonl")
        write_jsonl(files[lang], prompts)
    return str(tiny_model_dir("gpt2")), files, str(tmp_path / "cache")


def test_stage_samples_missing_languages_with_one_load_then_nothing(setup):
    model, files, cache = setup
    loads = base.MODEL_LOADS
    first = ensure_languages(model, files, GENERATION, cache, "tiny/base")
    assert first["model_loads"] == 1 and base.MODEL_LOADS == loads + 1
    assert all(v["sampled"] for v in first["languages"].values())
    again = ensure_languages(model, files, GENERATION, cache, "tiny/base")
    assert again["model_loads"] == 0 and not any(v["sampled"] for v in again["languages"].values())
    assert {k: v["key"] for k, v in again["languages"].items()} == {k: v["key"] for k, v in first["languages"].items()}


def test_only_a_changed_language_is_sampled_again(setup):
    model, files, cache = setup
    ensure_languages(model, files, GENERATION, cache, "tiny/base")
    write_jsonl(files["de"], PROMPTS["de"] + [{"id": "1", "lang": "de", "text": "Danke"}])
    manifest = ensure_languages(model, files, GENERATION, cache, "tiny/base")
    assert {k: v["sampled"] for k, v in manifest["languages"].items()} == {"en": False, "de": True, "zh-hans": False}
    assert manifest["model_loads"] == 1


def test_per_language_file_is_the_same_bytes_whether_sampled_with_others_or_alone(setup, tmp_path):
    model, files, cache = setup
    ensure_languages(model, files, GENERATION, cache, "tiny/base")  # en, de, zh-hans with one model
    loads = base.MODEL_LOADS
    from_cache = tmp_path / "out" / "zh-hans.jsonl"
    materialize_language(model, files["zh-hans"], "zh-hans", str(from_cache), GENERATION, cache, "tiny/base")
    assert base.MODEL_LOADS == loads  # a cache hit loads nothing
    alone = tmp_path / "alone" / "zh-hans.jsonl"
    materialize_language(model, files["zh-hans"], "zh-hans", str(alone), GENERATION, None)
    assert base.MODEL_LOADS == loads + 1
    assert from_cache.read_bytes() == alone.read_bytes()
    records = read_jsonl(alone)
    assert len(records) == 2 * 3 and all(r["lang"] == "zh-hans" for r in records)


def test_missing_entry_is_sampled_by_the_language_job_and_cached(setup, tmp_path):
    model, files, cache = setup
    out = tmp_path / "out" / "de.jsonl"
    materialize_language(model, files["de"], "de", str(out), GENERATION, cache, "tiny/base")
    key, _ = generation_key(model, files["de"], "de", GENERATION)
    entry = GenerationCache(cache, "tiny/base").get("de", key)
    assert entry is not None and entry.read_bytes() == out.read_bytes()
    manifest = ensure_languages(model, {"de": files["de"]}, GENERATION, cache, "tiny/base")
    assert manifest["model_loads"] == 0


def test_key_ingredients(setup, tmp_path):
    model, files, _ = setup
    key = generation_key(model, files["en"], "en", GENERATION)[0]
    assert generation_key(model, files["en"], "en", {**GENERATION, "cache_dir": "elsewhere"})[0] == key
    assert generation_key(model, files["en"], "en", {**GENERATION, "batch_size": 7})[0] != key  # bf16: batch matters
    assert generation_key(model, files["en"], "en", {**GENERATION, "vllm": {"dtype": "half"}})[0] == key  # hf
    assert generation_key(model, files["en"], "en", {**GENERATION, "seed": 1})[0] != key
    assert generation_key(model, files["en"], "de", GENERATION)[0] != key
    assert generation_key(model, files["de"], "en", GENERATION)[0] != key
    vllm = {**GENERATION, "backend": "vllm", "vllm": {"dtype": "auto"}}
    assert generation_key(model, files["en"], "en", vllm)[0] != generation_key(
        model, files["en"], "en", {**vllm, "vllm": {"dtype": "half"}})[0]


def test_model_fingerprint_follows_the_checkpoint_files(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"abc")
    fp = model_fingerprint(model)
    assert model_fingerprint(model) == fp
    os.utime(model / "model.safetensors", ns=(1, 1))  # a retrained checkpoint: new modification time
    assert model_fingerprint(model) != fp


def test_truncated_entry_is_not_a_hit(setup):
    model, files, cache = setup
    manifest = ensure_languages(model, {"en": files["en"]}, GENERATION, cache, "tiny/base")
    store = GenerationCache(cache, "tiny/base")
    key = manifest["languages"]["en"]["key"]
    entry = store.get("en", key)
    entry.write_text(entry.read_text()[:-20])
    assert store.get("en", key) is None
    assert ensure_languages(model, {"en": files["en"]}, GENERATION, cache, "tiny/base")["model_loads"] == 1


class RecordingBackend:
    """Returns one record per (prompt, sample) and remembers each generate() call's prompts."""

    def __init__(self, mixes_languages=False):
        self.calls, self.mixes_languages = [], mixes_languages

    def generate(self, model_path, prompts, sampling):
        self.calls.append([p["lang"] for p in prompts])
        return [{"prompt_id": p["id"], "lang": p["lang"], "sample": s, "prompt": p["text"], "text": "x y z",
                 "n_tokens": 3, "seed": 0} for p in prompts for s in range(sampling.n_samples)]


def test_hf_batches_never_mix_languages_vllm_gets_one_call():
    from xdetox.generation.runner import sample_languages

    hf = RecordingBackend()
    out = sample_languages("m", PROMPTS, GENERATION, backend=hf)
    assert hf.calls == [["en", "en"], ["de"], ["zh-hans", "zh-hans"]]
    assert {lang: len(r) for lang, r in out.items()} == {"en": 6, "de": 3, "zh-hans": 6}
    vllm = RecordingBackend(mixes_languages=True)
    sample_languages("m", PROMPTS, GENERATION, backend=vllm)
    assert vllm.calls == [["en", "en", "de", "zh-hans", "zh-hans"]]
