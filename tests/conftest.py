"""Shared fixtures: tiny real models and a tiny workflow config (2 languages, seconds per job)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XDETOX_DATA_DIR") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Factory: path of a tiny random model of a family (built once per session)."""
    from xdetox.tiny import build_tiny_model

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


def tiny_workflow_config(model_dir: Path, data_dir: Path, langs=("en", "de"), **overrides) -> dict:
    """A config that runs the real Snakefile on a tiny model in seconds per job."""
    config = {
        "languages": list(langs),
        "data": {
            "local_dir": str(data_dir),
            "prompts": {"max_prompts_per_lang": 3},
            "pairs": {"source": "paradetox", "max_pairs": 24},
        },
        "models": {
            "tiny": {
                "source": "path",
                "path": str(model_dir),
                "family": "gpt2",
                "dpo": {"max_steps": 4, "eval_steps": 2, "warmup_steps": 1, "batch_size": 2, "max_length": 48,
                        "max_prompt_length": 16, "patience": 2},
            }
        },
        "generation": {"n_samples": 3, "max_new_tokens": 5, "batch_size": 2, "dtype": "float32"},
        "scoring": {"scorers": ["lexicon"]},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
