"""HF backend: reproducible bytes through the generate step, threads, dtype choice, out-of-memory handling, load count."""

from __future__ import annotations

import pytest
import torch

from helpers import generation, sampling
from xdetox import XdetoxError, models
from xdetox.generation import base
from xdetox.generation.hf import HFBackend, load_model
from xdetox.io import read_jsonl, write_jsonl
from xdetox.steps.generate import generate

PROMPTS = [
    {"id": "0", "lang": "en", "text": "I hate you"},
    {"id": "1", "lang": "en", "text": "Thank you for the lovely"},
    {"id": "2", "lang": "en", "text": "The weather"},
]
GENERATION = generation(n_samples=4, max_new_tokens=6, batch_size=2, dtype="float32", seed=3)


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "en.jsonl"
    write_jsonl(path, PROMPTS)
    return path


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_same_config_gives_byte_identical_files(tiny_model_dir, prompts_file, tmp_path, dtype):
    """A rerun writes the same bytes, whatever the thread count; in float32 whatever the batch size too (in bf16 a
    sequence's logits may depend on its batch: the batch size is part of the generation cache key)."""
    model = str(tiny_model_dir("gemma"))
    generation = {**GENERATION, "dtype": dtype}
    runs = {"a": (generation, 1), "b": (generation, 2)}
    if dtype == "float32":
        runs["c"] = ({**generation, "batch_size": 1}, 2)
    for name, (settings, threads) in runs.items():
        generate(model, str(prompts_file), "en", str(tmp_path / f"{name}.jsonl"), settings, str(tmp_path / name),
                 "m/base", {}, threads=threads)
    assert len({(tmp_path / f"{name}.jsonl").read_bytes() for name in runs}) == 1
    records = read_jsonl(tmp_path / "a.jsonl")
    assert len(records) == 12
    assert set(records[0]) == {"prompt_id", "lang", "sample", "prompt", "text", "n_tokens", "seed"}


def test_threads_follow_the_job(tiny_model_dir):
    before = torch.get_num_threads()
    try:
        HFBackend(threads=1, progress=False).generate(
            str(tiny_model_dir("gpt2")), PROMPTS[:1], sampling(n_samples=1, max_new_tokens=1, dtype="float32"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_auto_dtype_on_cpu_depends_on_native_bf16(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: True)
    assert models.resolve_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: False)
    assert models.resolve_dtype("auto", cpu) == torch.float32
    assert models.resolve_dtype("float16", cpu) == torch.float16
    assert models.resolve_dtype(None, cpu) == "auto"  # the checkpoint's own dtype


def test_each_load_is_counted(tiny_model_dir):
    before = base.MODEL_LOADS
    load_model(str(tiny_model_dir("gpt2")), "float32")
    assert base.MODEL_LOADS == before + 1


def test_out_of_memory_halves_the_batch_without_changing_output(tiny_model_dir, monkeypatch):
    model, tok = load_model(str(tiny_model_dir("llama")), "float32")
    settings = sampling(n_samples=3, max_new_tokens=4, batch_size=3, dtype="float32")
    expected = HFBackend(model, tok, progress=False).generate(None, PROMPTS, settings)

    backend = HFBackend(model, tok, progress=False)
    real = backend._sample_batch
    sizes = []

    def flaky(encoded, prompts, settings):
        sizes.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(encoded, prompts, settings)

    monkeypatch.setattr(backend, "_sample_batch", flaky)
    assert backend.generate(None, PROMPTS, settings) == expected
    assert sizes[0] == 3 and max(sizes[1:]) < 3


def test_cpu_allocation_failure_stops_with_advice(tiny_model_dir, monkeypatch):
    model, tok = load_model(str(tiny_model_dir("gpt2")), "float32")
    backend = HFBackend(model, tok, progress=False)

    def fail(*args):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(backend, "_sample_batch", fail)
    with pytest.raises(XdetoxError, match="lower generation.batch_size"):
        backend.generate(None, PROMPTS, sampling(n_samples=2, dtype="float32"))
