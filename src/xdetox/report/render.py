"""What every figure shares: the pyplot backend and the one way a figure is saved."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs have no display

import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_path  # noqa: E402

DPI = 130


def save_figure(fig, out: str | Path, note: str | None = None) -> None:
    """Lay out, save as PNG atomically (a crash leaves no partial file) and free the figure.

    `note`: an optional footnote under the axes (e.g. a caveat about the model's architecture).
    """
    if note:
        fig.text(0.01, -0.02, note, fontsize=6.5, wrap=True, va="top")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
