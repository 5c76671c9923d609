"""HF backend: reproducible bytes through generate_step, threads, dtype choice, out-of-memory handling, load count."""

from __future__ import annotations

import pytest
import torch

from xdetox import XdetoxError
from xdetox.generation import base, hf
from xdetox.generation.base import Sampling
from xdetox.generation.hf import HFBackend, load_model
from xdetox.io import read_jsonl, write_jsonl
from xdetox.steps import generate_step

PROMPTS = [
    {"id": "0", "lang": "en", "text": "I hate you"},
    {"id": "1", "lang": "en", "text": "Thank you for the lovely"},
    {"id": "2", "lang": "en", "text": "The weather"},
]
GENERATION = {"backend": "hf", "n_samples": 4, "max_new_tokens": 6, "batch_size": 2, "dtype": "float32", "seed": 3}


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "en.jsonl"
    write_jsonl(path, PROMPTS)
    return path


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_same_config_gives_byte_identical_files(tiny_model_dir, prompts_file, tmp_path, dtype):
    model = str(tiny_model_dir("gemma"))
    generation = {**GENERATION, "dtype": dtype}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    generate_step(model, str(prompts_file), str(a), generation, threads=1)
    generate_step(model, str(prompts_file), str(b), {**generation, "batch_size": 1}, threads=2)
    assert a.read_bytes() == b.read_bytes()
    records = read_jsonl(a)
    assert len(records) == 12
    assert {"detected_lang", "lang_confidence"} <= set(records[0])


def test_threads_follow_the_job(tiny_model_dir):
    before = torch.get_num_threads()
    try:
        HFBackend(threads=1, progress=False).generate(
            str(tiny_model_dir("gpt2")), PROMPTS[:1], Sampling(n_samples=1, max_new_tokens=1, dtype="float32"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_auto_dtype_on_cpu_depends_on_native_bf16(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(hf, "cpu_has_fast_bf16", lambda: True)
    assert hf.resolve_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(hf, "cpu_has_fast_bf16", lambda: False)
    assert hf.resolve_dtype("auto", cpu) == torch.float32
    assert hf.resolve_dtype("float16", cpu) == torch.float16


def test_each_load_is_counted_and_logged(tiny_model_dir, caplog):
    before = base.MODEL_LOADS
    with caplog.at_level("INFO", logger="xdetox.generation"):
        load_model(str(tiny_model_dir("gpt2")), "float32")
    assert base.MODEL_LOADS == before + 1
    assert sum("loading model" in r.getMessage() for r in caplog.records) == 1


def test_out_of_memory_halves_the_batch_without_changing_output(tiny_model_dir, monkeypatch):
    model, tok = load_model(str(tiny_model_dir("llama")), "float32")
    sampling = Sampling(n_samples=3, max_new_tokens=4, batch_size=3, dtype="float32")
    expected = HFBackend(model, tok, progress=False).generate(None, PROMPTS, sampling)

    backend = HFBackend(model, tok, progress=False)
    real = backend._sample_batch
    sizes = []

    def flaky(encoded, prompts, sampling):
        sizes.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(encoded, prompts, sampling)

    monkeypatch.setattr(backend, "_sample_batch", flaky)
    assert backend.generate(None, PROMPTS, sampling) == expected
    assert sizes[0] == 3 and max(sizes[1:]) < 3


def test_cpu_allocation_failure_stops_with_advice(tiny_model_dir, monkeypatch):
    model, tok = load_model(str(tiny_model_dir("gpt2")), "float32")
    backend = HFBackend(model, tok, progress=False)

    def fail(*args):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(backend, "_sample_batch", fail)
    with pytest.raises(XdetoxError, match="lower generation.batch_size"):
        backend.generate(None, PROMPTS, Sampling(n_samples=2, dtype="float32"))
