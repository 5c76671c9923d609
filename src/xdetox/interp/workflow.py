"""Workflow helpers for workflow/rules/interpret.smk (kept here so the rule file holds rules only)."""

from __future__ import annotations

OUTPUTS = ("probe/metrics.json", "value_vectors.csv", "projections.csv", "table4.md", "tables8_9.md", "table5.md",
           "figure3.png")


def interpret_models(config: dict) -> list[str]:
    return [m for m, cfg in config["models"].items() if cfg.get("interpret")]


def interpret_targets(config: dict, results: str, scorer: str) -> list[str]:
    """The interpretability outputs of every model with `interpret: true` (Figure 2 with the main scorer)."""
    targets = []
    for model in interpret_models(config):
        d = f"{results}/interpret/{model}"
        targets += [f"{d}/{out}" for out in OUTPUTS] + [f"{d}/figure2/{scorer}.png"]
    return targets


def model_params(config: dict, model: str) -> dict:
    """dtype (interpret.dtype, or the model's own with `model`), family and label of one model."""
    cfg = config["models"][model]
    dtype = config["interpret"]["dtype"]
    return {"dtype": cfg["dtype"] if dtype == "model" else dtype, "family": cfg.get("family"),
            "label": cfg.get("label", model)}
