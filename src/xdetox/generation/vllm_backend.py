"""vLLM backend: the reference code's engine (xg/generate/vllm_script_sample.py) on the merged DPO checkpoint (or the base model).

    LLM(model=..., tensor_parallel_size, gpu_memory_utilization, dtype, swap_space, seed)
    SamplingParams(n=1, temperature, top_p, max_tokens, seed=sample_seed(...)) — one request per (prompt, sample)

Seeds. vLLM seeds per request. We send one request per (prompt, sample) with n=1 and that sample's own seed
(`base.sample_seed`, the same seed the Hugging Face backend uses for that sample), rather than one request per prompt
with n samples and one seed: with n > 1 how the n children's random streams derive from the request seed is an
internal detail of vLLM that has changed between releases (V0 shared one generator across the n sequences, V1 gives
child i the seed + i), so a record's seed would not say how to reproduce it. With n=1, every record's `seed` is
exactly the seed that drew it, and any single sample can be regenerated alone. Cost: 25× more (tiny) requests; the
prompt's KV blocks are shared by vLLM's prefix caching, and prefill is a small part of 20-token sampling.
vLLM output is not bit-reproducible across batch compositions (its kernels are not batch-invariant), unlike the HF
backend's.

Version differences handled here (checked against the installed vLLM's EngineArgs fields):
- `swap_space` was removed from LLM/EngineArgs in vLLM 0.18 (it only served V0's best_of); it is passed only where
  it exists.
- The attention backend (BLOOM's ALiBi on Hopper, vllm-project/vllm#13810) is set through the environment variable
  VLLM_ATTENTION_BACKEND, read by vLLM < 0.14 (e.g. XFORMERS), and through LLM(attention_backend=...) where that
  argument exists (vLLM ≥ 0.14 ignores the variable; e.g. FLASH_ATTN or TRITON_ATTN). vLLM ≥ 0.8.2 already falls
  back from FlashAttention 3 to 2 for ALiBi models on Hopper, so the option is mostly needed with older pins.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Sequence

from .. import XdetoxError
from ..models import eos_ids
from .base import Sampling, generation_record, note_model_load, sample_seed

log = logging.getLogger("xdetox.generation")

def import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise XdetoxError(
            f"config key generation.backend: 'vllm' needs the vllm package, which is not importable here ({err}). "
            "Run the workflow with `--sdm conda` (the generation rules then use envs/vllm.yaml), or install the vLLM "
            "virtual environment described in the README, or set generation.backend: hf"
        ) from None
    return vllm


def engine_fields(vllm) -> set[str] | None:
    """Names the installed vLLM's EngineArgs accepts (None when it cannot be told)."""
    engine_args = getattr(vllm, "EngineArgs", None)
    if engine_args is None or not dataclasses.is_dataclass(engine_args):
        return None
    return {f.name for f in dataclasses.fields(engine_args)}


class VLLMBackend:
    #: all languages in one generate() call: vLLM schedules its own batches (it is not batch-invariant anyway)
    mixes_languages = True

    def __init__(self, options: dict, progress: bool = True):
        """`options`: the config's generation.vllm section (defaults filled by the schema)."""
        self.options = dict(options)
        self.progress = progress
        self.llm = None
        self.vllm = None
        self.model_path: str | None = None
        self.eos_ids: set[int] = set()

    def engine_kwargs(self, model_path: str, seed: int) -> dict:
        opts = self.options
        kwargs = {
            "model": model_path,
            "tensor_parallel_size": int(opts["tensor_parallel_size"]),
            "gpu_memory_utilization": float(opts["gpu_memory_utilization"]),
            "dtype": opts["dtype"],
            "seed": int(seed),
        }
        fields = engine_fields(self.vllm)
        if fields is None or "swap_space" in fields:
            kwargs["swap_space"] = opts["swap_space"]
        else:
            log.info("vLLM %s has no swap_space (removed in 0.18); generation.vllm.swap_space is ignored",
                     getattr(self.vllm, "__version__", "?"))
        backend = opts["attention_backend"]
        if backend and fields is not None and "attention_backend" in fields:
            kwargs["attention_backend"] = backend
        if opts["max_model_len"]:
            kwargs["max_model_len"] = int(opts["max_model_len"])
        return kwargs

    def load(self, model_path: str, seed: int) -> None:
        self.vllm = import_vllm()
        backend = self.options["attention_backend"]
        if backend:
            # read by vLLM < 0.14 when the engine starts; newer releases take LLM(attention_backend=...)
            os.environ["VLLM_ATTENTION_BACKEND"] = str(backend)
        kwargs = self.engine_kwargs(model_path, seed)
        note_model_load(model_path, "vllm", **{k: v for k, v in kwargs.items() if k != "model"})
        self.llm = self.vllm.LLM(**kwargs)
        self.model_path = model_path
        try:
            tokenizer = self.llm.get_tokenizer()
        except Exception:  # noqa: BLE001 - only used to find EOS ids
            tokenizer = None
        self.eos_ids = eos_ids(tokenizer, model_dir=model_path)

    def requests(self, prompts: Sequence[dict], sampling: Sampling) -> tuple[list[str], list, list[int]]:
        """One request per (prompt, sample): texts, SamplingParams (n=1, own seed), seeds — prompt-major order."""
        texts, params, seeds = [], [], []
        for p in prompts:
            for s in range(sampling.n_samples):
                seed = sample_seed(sampling.seed, p["lang"], p["id"], s)
                texts.append(p["text"])
                seeds.append(seed)
                params.append(self.vllm.SamplingParams(
                    n=1, temperature=sampling.temperature, top_p=sampling.top_p,
                    max_tokens=sampling.max_new_tokens, seed=seed,
                ))
        return texts, params, seeds

    def generate(self, model_path: str | None, prompts: Sequence[dict], sampling: Sampling) -> list[dict]:
        if self.llm is None or (model_path is not None and model_path != self.model_path):
            self.load(model_path, sampling.seed)
        if not prompts:
            return []
        texts, params, seeds = self.requests(prompts, sampling)
        outputs = self.llm.generate(texts, params, use_tqdm=self.progress)
        if len(outputs) != len(texts):
            raise XdetoxError(f"vLLM returned {len(outputs)} outputs for {len(texts)} requests")
        records, i = [], 0
        for p in prompts:
            for s in range(sampling.n_samples):
                completion = outputs[i].outputs[0]
                token_ids = list(completion.token_ids)
                if token_ids and token_ids[-1] in self.eos_ids:  # the EOS that ended it is not a new token
                    token_ids.pop()
                records.append(generation_record(p, s, completion.text, len(token_ids), seeds[i]))
                i += 1
        return records
