"""Which checkpoint computes fluency and diversity: an evaluator name resolved to a model key, a folder or a hub id.

Parse-time code: the rule files resolve evaluator names to input folders with it, so it imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import XdetoxError


def resolve_evaluator(config: dict[str, Any], name: str | None) -> tuple[str, str]:
    """("model", key) for a key of `models` (or None: the first model), ("path", folder), or ("hub", id)."""
    if name is None:
        return "model", next(iter(config["models"]))
    if name in config["models"]:
        return "model", name
    if Path(name).is_dir():
        return "path", name
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise XdetoxError(f"config key evaluation: {name!r} is neither a key of models, an existing folder, nor a hub id")
    return "hub", name


def hub_folder_name(hub_id: str, revision: str | None = None) -> str:
    """A folder name for a hub-id evaluator under resources/models/evaluators/."""
    return hub_id.replace("/", "--") + (f"@{revision}" if revision else "")


def fluency_evaluator_name(config: dict[str, Any]) -> str | None:
    return config["evaluation"]["fluency"]["evaluator"]


def diversity_tokenizer_name(config: dict[str, Any]) -> str | None:
    return config["evaluation"]["diversity"]["tokenizer"] or fluency_evaluator_name(config)
