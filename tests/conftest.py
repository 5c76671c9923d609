"""Fixtures: tiny real models (built once per session) and the offline data folder. Helpers: tests/helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from helpers import SHARED_DATA  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Factory: path of a tiny random model of a family (built once per session)."""
    from tiny import build_tiny_model

    built: dict[str, Path] = {}

    def make(family: str = "gpt2") -> Path:
        if family not in built:
            built[family] = build_tiny_model(tmp_path_factory.mktemp(f"tiny-{family}"), family)
        return built[family]

    return make


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "rtp-lx").is_dir():
        pytest.skip(f"offline data folder not found at {SHARED_DATA} (set XDETOX_DATA_DIR)")
    return SHARED_DATA
