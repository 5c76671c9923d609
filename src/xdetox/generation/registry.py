"""Pick the generation backend named in the config."""

from __future__ import annotations

from .. import XdetoxError


def make_backend(generation: dict, threads: int | None = None, progress: bool = True):
    name = generation.get("backend", "hf")
    if name == "hf":
        from .hf import HFBackend

        return HFBackend(threads=threads, progress=progress)
    if name == "vllm":
        from .vllm_backend import VLLMBackend

        return VLLMBackend(generation.get("vllm", {}), progress=progress)
    raise XdetoxError(f"config key generation.backend: unknown backend {name!r} (hf or vllm)")
