"""Generation through the content cache: the per-stage step samples every missing language with one model load, the
per-language step copies its entry (or samples it with the stage's other missing languages)."""

from __future__ import annotations

import os

import pytest

from helpers import generation, sampling
from xdetox.cache import ContentCache, model_fingerprint
from xdetox.generation import base
from xdetox.generation.runner import generation_ingredients, sample_languages
from xdetox.io import read_jsonl, write_jsonl
from xdetox.steps.generate import generate, generate_stage

GENERATION = generation(n_samples=3, max_new_tokens=4, batch_size=2, dtype="float32")
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


def stage(model, files, cache, out):
    return generate_stage(model, files, str(out), GENERATION, cache, "tiny/base", threads=1)


def test_stage_samples_missing_languages_with_one_load_then_nothing(setup, tmp_path):
    model, files, cache = setup
    loads = base.MODEL_LOADS
    first = stage(model, files, cache, tmp_path / "m1.json")
    assert first["model_loads"] == 1 and base.MODEL_LOADS == loads + 1
    assert all(v["sampled"] for v in first["languages"].values())
    again = stage(model, files, cache, tmp_path / "m2.json")
    assert again["model_loads"] == 0 and not any(v["sampled"] for v in again["languages"].values())
    assert {k: v["key"] for k, v in again["languages"].items()} == {k: v["key"] for k, v in first["languages"].items()}


def test_only_a_changed_language_is_sampled_again(setup, tmp_path):
    model, files, cache = setup
    stage(model, files, cache, tmp_path / "m1.json")
    write_jsonl(files["de"], PROMPTS["de"] + [{"id": "1", "lang": "de", "text": "Danke"}])
    manifest = stage(model, files, cache, tmp_path / "m2.json")
    assert {k: v["sampled"] for k, v in manifest["languages"].items()} == {"en": False, "de": True, "zh-hans": False}
    assert manifest["model_loads"] == 1


def test_per_language_file_is_the_same_bytes_whether_sampled_with_others_or_alone(setup, tmp_path):
    model, files, cache = setup
    stage(model, files, cache, tmp_path / "m.json")  # en, de, zh-hans with one model
    loads = base.MODEL_LOADS
    from_cache = tmp_path / "out" / "zh-hans.jsonl"
    generate(model, files["zh-hans"], "zh-hans", str(from_cache), GENERATION, cache, "tiny/base", files)
    assert base.MODEL_LOADS == loads  # a cache hit loads nothing
    alone = tmp_path / "alone" / "zh-hans.jsonl"
    generate(model, files["zh-hans"], "zh-hans", str(alone), GENERATION, str(tmp_path / "fresh"), "tiny/base", {})
    assert base.MODEL_LOADS == loads + 1
    assert from_cache.read_bytes() == alone.read_bytes()
    records = read_jsonl(alone)
    assert len(records) == 2 * 3 and all(r["lang"] == "zh-hans" for r in records)


def test_missing_entry_is_sampled_by_the_language_job_with_its_missing_siblings(setup, tmp_path):
    model, files, cache = setup
    out = tmp_path / "out" / "de.jsonl"
    loads = base.MODEL_LOADS
    generate(model, files["de"], "de", str(out), GENERATION, cache, "tiny/base", files)
    assert base.MODEL_LOADS == loads + 1
    manifest = stage(model, files, cache, tmp_path / "m.json")
    assert manifest["model_loads"] == 0  # the language job sampled every missing language of the stage
    store = ContentCache(cache, "tiny/base")
    key = manifest["languages"]["de"]["key"]
    assert store.lookup("de", key).read_bytes() == out.read_bytes()
    assert store.meta("de", key)["computed_with"] == ["de", "en", "zh-hans"]


def key(model, files, lang, prompts_lang=None, **settings):
    from xdetox.cache import content_key, file_sha256

    return content_key(generation_ingredients(model_fingerprint(model), file_sha256(files[prompts_lang or lang]),
                                              lang, {**GENERATION, **settings}))


def test_key_ingredients(setup):
    model, files, _ = setup
    k = key(model, files, "en")
    assert key(model, files, "en", batch_size=7) != k  # bf16: a sequence's logits depend on its batch
    assert key(model, files, "en", vllm={**GENERATION["vllm"], "dtype": "half"}) == k  # hf backend
    assert key(model, files, "en", seed=1) != k
    assert key(model, files, "de", prompts_lang="en") != k
    assert key(model, files, "en", prompts_lang="de") != k
    vllm = {"backend": "vllm", "vllm": {**GENERATION["vllm"], "dtype": "auto"}}
    assert key(model, files, "en", **vllm) != key(model, files, "en", **{**vllm, "vllm": {**vllm["vllm"],
                                                                                         "dtype": "half"}})


def test_model_fingerprint_follows_the_checkpoint_files(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"abc")
    fp = model_fingerprint(model)
    assert model_fingerprint(model) == fp
    os.utime(model / "model.safetensors", ns=(1, 1))  # a retrained checkpoint: new modification time
    assert model_fingerprint(model) != fp


class RecordingBackend:
    """Returns one record per (prompt, sample) and remembers each generate() call's prompts."""

    def __init__(self, mixes_languages=False):
        self.calls, self.mixes_languages = [], mixes_languages

    def generate(self, model_path, prompts, sampling):
        self.calls.append([p["lang"] for p in prompts])
        return [{"prompt_id": p["id"], "lang": p["lang"], "sample": s, "prompt": p["text"], "text": "x y z",
                 "n_tokens": 3, "seed": 0} for p in prompts for s in range(sampling.n_samples)]


def test_hf_batches_never_mix_languages_vllm_gets_one_call():
    hf = RecordingBackend()
    out = sample_languages("m", PROMPTS, sampling(n_samples=3), hf)
    assert hf.calls == [["en", "en"], ["de"], ["zh-hans", "zh-hans"]]
    assert {lang: len(r) for lang, r in out.items()} == {"en": 6, "de": 3, "zh-hans": 6}
    vllm = RecordingBackend(mixes_languages=True)
    sample_languages("m", PROMPTS, sampling(n_samples=3), vllm)
    assert vllm.calls == [["en", "en", "de", "zh-hans", "zh-hans"]]
