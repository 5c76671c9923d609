"""The generation interface: `generate(model_path, prompts, sampling) -> generations` (file contract: generations)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, fields
from typing import Protocol, Sequence

log = logging.getLogger("xdetox.generation")

#: model loads in this process (the workflow promises one per (model, stage) in a full run; tests count them)
MODEL_LOADS = 0


@dataclass(frozen=True)
class Sampling:
    """How continuations are drawn: the config's `generation` section as one typed value, built once per job.

    The defaults (the paper's: 25 samples, 20 new tokens, nucleus sampling T=0.9, p=0.8; paper §3.1.1) live in the
    config schema only.
    """

    n_samples: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    batch_size: int
    dtype: str

    @classmethod
    def from_config(cls, generation: dict) -> "Sampling":
        return cls(**{f.name: generation[f.name] for f in fields(cls)})


def sample_seed(base_seed: int, lang: str, prompt_id: str, sample: int) -> int:
    """A seed per (prompt, sample), stable across batching, backends and reruns (63-bit, from SHA-256)."""
    digest = hashlib.sha256(f"{base_seed}\x1f{lang}\x1f{prompt_id}\x1f{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generation_record(prompt: dict, sample: int, text: str, n_tokens: int, seed: int) -> dict:
    return {
        "prompt_id": prompt["id"],
        "lang": prompt["lang"],
        "sample": sample,
        "prompt": prompt["text"],
        "text": text,
        "n_tokens": n_tokens,
        "seed": seed,
    }


def note_model_load(model_path: str, backend: str, **details) -> None:
    """Count and log one model load; the log line ("loading model ...") is what the workflow test counts."""
    global MODEL_LOADS
    MODEL_LOADS += 1
    extra = "".join(f", {k}={v}" for k, v in details.items())
    log.info("loading model %s (backend %s%s; load #%d in this process)", model_path, backend, extra, MODEL_LOADS)


class Backend(Protocol):
    def generate(self, model_path: str, prompts: Sequence[dict], sampling: Sampling) -> list[dict]:
        """Exactly `sampling.n_samples` records per prompt, ordered by prompt then sample."""
