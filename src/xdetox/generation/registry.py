"""Pick the generation backend named in the config."""

from __future__ import annotations

from .. import XdetoxError


def make_backend(generation: dict, threads: int | None = None, progress: bool = True):
    """The backend of the config's `generation` section (hf or vllm)."""
    name = generation["backend"]
    if name == "hf":
        from .hf import HFBackend

        return HFBackend(threads=threads, progress=progress)
    if name == "vllm":
        # imported only when chosen: the vLLM environment has no use for the HF sampler and vice versa
        from .vllm_backend import VLLMBackend

        return VLLMBackend(generation["vllm"], progress=progress)
    raise XdetoxError(f"config key generation.backend: unknown backend {name!r} (hf or vllm)")
