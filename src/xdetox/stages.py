"""DPO stage variants of a model: several seeds, the learning-rate sweep, and the Figure 12 method comparison.

Stage names (the `stage` wildcard):
- ``dpo``: the main run, which tables compare with ``base``; trained with the model's DPO section, its seed being
  ``dpo.seeds[0]`` when seeds are configured (else ``dpo.seed``).
- ``dpo-seed<n>``: the same run with seed n, for every further n in ``dpo.seeds`` (Figure 1 averaged over seeds,
  Table 2 mean ± std across seeds). The main run is seed ``seeds[0]``, so no seed is trained twice.
- ``dpo-lr<x>``: the learning-rate sweep (Figure 11), for every x in ``dpo.learning_rates`` other than the main
  ``learning_rate`` (whose point is the ``dpo`` run); x is written with Python's ``{:g}`` (``1e-05``, ``5e-07``).
- ``dpo-<method>`` (``full``, ``lora``, ``qlora``): Figure 12's comparison run, when ``evaluation.figure12`` sets
  ``compare_method`` for this model.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from .config import model_dpo

SWEEP_KEYS = ("seeds", "learning_rates")


def lr_name(lr: float) -> str:
    return f"{lr:g}"


def main_seed(hp: dict[str, Any]) -> int:
    return hp["seeds"][0] if hp.get("seeds") else hp["seed"]


def dpo_variants(config: dict[str, Any], model: str) -> "OrderedDict[str, dict[str, Any]]":
    """stage → the hyperparameters that differ from the model's DPO section, main stage first."""
    hp = model_dpo(config, model)
    seed = main_seed(hp)
    variants: "OrderedDict[str, dict[str, Any]]" = OrderedDict(dpo={"seed": seed})
    if config["models"][model].get("dpo_source"):  # a published checkpoint: nothing is trained, so no variants
        return variants
    for s in (hp.get("seeds") or [])[1:]:
        variants[f"dpo-seed{s}"] = {"seed": s}
    for lr in hp.get("learning_rates") or []:
        if not math.isclose(lr, hp["learning_rate"], rel_tol=1e-9):
            variants[f"dpo-lr{lr_name(lr)}"] = {"learning_rate": lr, "seed": seed}
    fig12 = config["evaluation"]["figure12"]
    if fig12 and fig12["compare_method"] and (fig12["compare_model"] or fig12["model"]) == model:
        variant = {"method": fig12["compare_method"], "seed": seed}
        if fig12.get("compare_precision"):
            variant["precision"] = fig12["compare_precision"]
        variants[f"dpo-{fig12['compare_method']}"] = variant
    return variants


def stage_hparams(config: dict[str, Any], model: str, stage: str) -> dict[str, Any]:
    """The full DPO hyperparameters of one (model, stage); the sweep lists themselves are left out."""
    variants = dpo_variants(config, model)
    if stage not in variants:
        from . import XdetoxError

        raise XdetoxError(f"model {model!r} has no DPO stage {stage!r}; configured: {', '.join(variants)}")
    hp = {k: v for k, v in model_dpo(config, model).items() if k not in SWEEP_KEYS}
    hp.update(variants[stage])
    return hp


def seed_stages(config: dict[str, Any], model: str) -> "OrderedDict[int, str]":
    """seed → stage of the runs that differ only in their seed (one entry when no seeds are configured)."""
    hp = model_dpo(config, model)
    seeds = hp.get("seeds") or [hp["seed"]]
    return OrderedDict((s, "dpo" if i == 0 else f"dpo-seed{s}") for i, s in enumerate(seeds))


def lr_stages(config: dict[str, Any], model: str) -> "OrderedDict[float, str]":
    """learning rate → stage, sorted by learning rate, the main rate included (its stage is ``dpo``)."""
    hp = model_dpo(config, model)
    rates = {hp["learning_rate"]: "dpo"}
    for lr in hp.get("learning_rates") or []:
        if not math.isclose(lr, hp["learning_rate"], rel_tol=1e-9):
            rates[lr] = f"dpo-lr{lr_name(lr)}"
    return OrderedDict(sorted(rates.items()))


def figure12_runs(config: dict[str, Any]) -> list[tuple[str, str]] | None:
    """[(model, stage) of the full fine-tuning run, (model, stage) of the compared run], or None if not configured."""
    fig12 = config["evaluation"]["figure12"]
    if not fig12:
        return None
    model = fig12["model"]
    other = fig12["compare_model"] or model
    stage = f"dpo-{fig12['compare_method']}" if fig12["compare_method"] else "dpo"
    return [(model, "dpo"), (other, stage)]
