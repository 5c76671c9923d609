"""The DPO training curve: loss, reward accuracy and margins per logged step (rendered by xdetox.report.training)."""

from __future__ import annotations

COLUMNS = ("step", "split", "loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")


def history_to_rows(history: list[dict]) -> list[dict]:
    """Trainer log history → one row per logged step and split (train or eval)."""
    rows = []
    for entry in history:
        if "step" not in entry:
            continue
        if "eval_loss" in entry:
            rows.append({"step": entry["step"], "split": "eval", "loss": entry["eval_loss"],
                         **{k: entry.get(f"eval_{k}") for k in COLUMNS[3:]}})
        elif "loss" in entry:
            rows.append({"step": entry["step"], "split": "train", "loss": entry["loss"],
                         **{k: entry.get(k) for k in COLUMNS[3:]}})
    return rows
