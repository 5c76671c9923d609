"""The DPO training curve of one (model, stage): loss, reward accuracy and margin per step, train and eval (CSV, PNG)."""

from __future__ import annotations

from pathlib import Path

from ..io import write_csv
from ..train.curves import COLUMNS
from .render import plt, save_figure


def curve_csv(rows: list[dict], path: str | Path) -> None:
    write_csv(path, ({k: row.get(k) for k in COLUMNS} for row in rows), COLUMNS)


def curve_figure(rows: list[dict], out: str | Path, title: str) -> None:
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
    save_figure(fig, out)
