"""The DPO training curve: loss, reward accuracy and margins per step, as CSV and PNG."""

from __future__ import annotations

import csv
from pathlib import Path

from ..io import atomic_open, atomic_path

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


def write_curve_csv(rows: list[dict], path: str | Path) -> None:
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k) for k in COLUMNS})


def plot_curve(rows: list[dict], path: str | Path, title: str = "DPO") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, label in zip(axes, ("loss", "rewards/accuracies", "rewards/margins"),
                              ("DPO loss", "reward accuracy", "reward margin")):
        for split, style in (("train", "-"), ("eval", "o--")):
            pts = [(r["step"], r[key]) for r in rows if r["split"] == split and r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), style, label=split)
        ax.set_xlabel("step")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
