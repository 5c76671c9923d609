"""The vLLM adapter against a stand-in `vllm` module: exact engine and sampling calls, seeds, records, guards."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types

import pytest

from xdetox import XdetoxError
from xdetox.generation import base
from helpers import config, generation, sampling
from xdetox.generation.base import sample_seed
from xdetox.generation.registry import make_backend

PROMPTS = [
    {"id": "0", "lang": "en", "text": "I hate you"},
    {"id": "1", "lang": "de", "text": "Ich hasse"},
]
EOS = 7


def fake_vllm(with_swap_space: bool = True, with_attention_backend: bool = False):
    """A stand-in for the vllm package that records every call."""
    module = types.ModuleType("vllm")
    module.__version__ = "0.0-test"
    calls = {"llm": [], "sampling": [], "generate": []}
    module.calls = calls

    fields = [("model", str, None), ("seed", int, 0)]
    if with_swap_space:
        fields.append(("swap_space", float, 4))
    if with_attention_backend:
        fields.append(("attention_backend", object, None))
    module.EngineArgs = dataclasses.make_dataclass(
        "EngineArgs", [(n, t, dataclasses.field(default=d)) for n, t, d in fields])

    class SamplingParams:
        def __init__(self, **kwargs):
            calls["sampling"].append(kwargs)
            self.kwargs = kwargs

    class Tokenizer:
        eos_token_id = EOS

    class LLM:
        def __init__(self, **kwargs):
            calls["llm"].append({**kwargs, "env_attention_backend": os.environ.get("VLLM_ATTENTION_BACKEND")})

        def get_tokenizer(self):
            return Tokenizer()

        def generate(self, prompts, sampling_params, use_tqdm=True):
            calls["generate"].append({"prompts": list(prompts), "n_params": len(sampling_params)})
            outputs = []
            for text, params in zip(prompts, sampling_params):
                seed = params.kwargs["seed"]
                ids = [100 + seed % 5, 200 + seed % 7] + ([EOS] if seed % 2 else [])  # odd seeds stop on EOS
                completion = types.SimpleNamespace(text=f"<{text}|{seed}>", token_ids=ids,
                                                   finish_reason="stop" if seed % 2 else "length")
                outputs.append(types.SimpleNamespace(prompt=text, outputs=[completion]))
            return outputs

    module.SamplingParams = SamplingParams
    module.LLM = LLM
    return module


@pytest.fixture
def vllm_module(monkeypatch):
    monkeypatch.delenv("VLLM_ATTENTION_BACKEND", raising=False)

    def install(**kwargs):
        module = fake_vllm(**kwargs)
        monkeypatch.setitem(sys.modules, "vllm", module)
        return module

    return install


def test_engine_and_sampling_calls(vllm_module, tmp_path):
    vllm = vllm_module(with_swap_space=True)
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [EOS, 8]}))
    options = {"tensor_parallel_size": 2, "gpu_memory_utilization": 0.5, "dtype": "bfloat16", "swap_space": 32}
    # tensor parallelism over 2 GPUs needs a model whose jobs hold 2 (models.<m>.resources.gpus)
    two_gpus = {"m": {"source": "path", "path": str(tmp_path), "family": "gpt2", "resources": {"gpus": 2}}}
    backend = make_backend(config(models=two_gpus, generation={"backend": "vllm", "vllm": options})["generation"],
                           progress=False)
    settings = sampling(n_samples=3, temperature=0.9, top_p=0.8, max_new_tokens=20, seed=5)
    records = backend.generate(str(tmp_path), PROMPTS, settings)

    assert len(vllm.calls["llm"]) == 1
    llm_kwargs = dict(vllm.calls["llm"][0])
    assert llm_kwargs.pop("env_attention_backend") is None
    assert llm_kwargs == {"model": str(tmp_path), "tensor_parallel_size": 2, "gpu_memory_utilization": 0.5,
                          "dtype": "bfloat16", "seed": 5, "swap_space": 32}
    # one request per (prompt, sample), n=1, each with that sample's own seed, prompt-major order
    seeds = [sample_seed(5, p["lang"], p["id"], s) for p in PROMPTS for s in range(3)]
    assert vllm.calls["sampling"] == [
        {"n": 1, "temperature": 0.9, "top_p": 0.8, "max_tokens": 20, "seed": seed} for seed in seeds]
    assert vllm.calls["generate"] == [{"prompts": [p["text"] for p in PROMPTS for _ in range(3)], "n_params": 6}]

    assert [(r["prompt_id"], r["lang"], r["sample"]) for r in records] == [
        (p["id"], p["lang"], s) for p in PROMPTS for s in range(3)]
    for record, seed in zip(records, seeds):
        assert record["seed"] == seed
        assert record["text"] == f"<{record['prompt']}|{seed}>"
        assert record["n_tokens"] == 2  # the EOS that ended a sequence is not counted
        assert set(record) == {"prompt_id", "lang", "sample", "prompt", "text", "n_tokens", "seed"}


def test_model_loaded_once_across_calls(vllm_module, tmp_path):
    vllm = vllm_module()
    backend = make_backend(generation(backend="vllm"), progress=False)
    loads = base.MODEL_LOADS
    for prompts in (PROMPTS[:1], PROMPTS[1:]):
        backend.generate(str(tmp_path), prompts, sampling(n_samples=2))
    assert len(vllm.calls["llm"]) == 1 and base.MODEL_LOADS == loads + 1
    assert backend.generate(str(tmp_path), [], sampling()) == []


def test_newer_vllm_without_swap_space_with_attention_backend(vllm_module, tmp_path):
    vllm = vllm_module(with_swap_space=False, with_attention_backend=True)
    backend = make_backend(generation(backend="vllm", vllm={"attention_backend": "TRITON_ATTN", "max_model_len": 512}),
                           progress=False)
    backend.generate(str(tmp_path), PROMPTS[:1], sampling(n_samples=1))
    kwargs = vllm.calls["llm"][0]
    assert "swap_space" not in kwargs
    assert kwargs["attention_backend"] == "TRITON_ATTN" and kwargs["env_attention_backend"] == "TRITON_ATTN"
    assert kwargs["max_model_len"] == 512


def test_older_vllm_gets_the_attention_backend_from_the_environment(vllm_module, tmp_path):
    vllm = vllm_module(with_swap_space=True, with_attention_backend=False)
    backend = make_backend(generation(backend="vllm", vllm={"attention_backend": "XFORMERS"}), progress=False)
    backend.generate(str(tmp_path), PROMPTS[:1], sampling(n_samples=1))
    kwargs = vllm.calls["llm"][0]
    assert kwargs["env_attention_backend"] == "XFORMERS" and "attention_backend" not in kwargs
    assert kwargs["swap_space"] == 4


def test_missing_vllm_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    backend = make_backend(generation(backend="vllm"), progress=False)
    with pytest.raises(XdetoxError, match=r"generation.backend: 'vllm' needs the vllm package.*--sdm conda"):
        backend.generate(str(tmp_path), PROMPTS, sampling(n_samples=1))


def test_stage_step_loads_vllm_once_for_all_languages(vllm_module, tmp_path):
    from xdetox.io import write_jsonl
    from xdetox.steps.generate import generate_stage

    vllm = vllm_module()
    files = {}
    for p in PROMPTS:
        files[p["lang"]] = str(tmp_path / f"{p['lang']}.jsonl")
        write_jsonl(files[p["lang"]], [p])
    model = tmp_path / "model"
    model.mkdir()
    manifest = generate_stage(str(model), files, str(tmp_path / "manifest.json"),
                              generation(backend="vllm", n_samples=2), str(tmp_path / "cache"), "m/base")
    assert manifest["model_loads"] == 1 and len(vllm.calls["llm"]) == 1 and len(vllm.calls["generate"]) == 1
    assert {lang: v["sampled"] for lang, v in manifest["languages"].items()} == {"en": True, "de": True}
