"""Language of continuations per model: the share in the prompt's language and in English, per stage and language
(CSV, Markdown, PNG). A "detoxification" that is really a switch to English shows up here."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..io import write_text
from ..langid import COLUMNS
from ..languages import short_label
from .render import plt, save_figure


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.0f}%"


def langid_csv(rows: list[dict], out: str | Path) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    write_text(out, text.getvalue())


def _grid(rows: list[dict]) -> tuple[list[str], list[str], dict]:
    """Stages and languages in order of appearance, and (stage, lang) -> row."""
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    langs = list(dict.fromkeys(r["lang"] for r in rows))
    return stages, langs, {(r["stage"], r["lang"]): r for r in rows}


def langid_markdown(rows: list[dict], label: str, out: str | Path) -> None:
    stages, langs, by = _grid(rows)
    head = ["Lang"] + [f"{s}: in prompt lang" for s in stages] + [f"{s}: English" for s in stages]
    lines = [
        f"Language of continuations — {label}: share of continuations identified (py3langid) as the prompt's "
        "language, and as English. A drop in the first with a rise in the second after DPO means the model switched "
        "to English rather than detoxified in the language.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for lang in langs:
        cells = [short_label(lang)]
        cells += [_pct(by[(s, lang)]["share_same"]) if (s, lang) in by else "–" for s in stages]
        cells += [_pct(by[(s, lang)]["share_en"]) if (s, lang) in by else "–" for s in stages]
        lines.append("| " + " | ".join(cells) + " |")
    for s in stages:
        judged = [r for r in rows if r["stage"] == s and r["share_same"] == r["share_same"]]
        if judged:
            mean = sum(r["share_same"] for r in judged) / len(judged)
            lines.append(f"\nMean share in the prompt's language, {s}: {_pct(mean)}.")
    lines.append(
        "\nShares are over continuations with letters (the rest are 'undetermined', see the CSV). Counted as the "
        "prompt's language: Malay for Indonesian, Arabic dialects for Arabic, Wu/Cantonese for Chinese. Continuations "
        "are ≤ 20 tokens: the identifier is noisy on single records, and kanji-only Japanese can read as Chinese."
    )
    write_text(out, "\n".join(lines) + "\n")


def langid_figure(rows: list[dict], label: str, out: str | Path) -> None:
    stages, langs, by = _grid(rows)
    x = np.arange(len(langs))
    width = 0.8 / max(1, len(stages))
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(langs) + 2), 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, stage in enumerate(stages):
        same = np.array([by.get((stage, l), {}).get("share_same", np.nan) for l in langs], dtype=float)
        english = np.array([0.0 if l == "en" else by.get((stage, l), {}).get("share_en", np.nan) for l in langs],
                           dtype=float)
        pos = x - 0.4 + width * (i + 0.5)
        color = colors[i % len(colors)]
        ax.bar(pos, same, width, color=color, label=f"{stage}: prompt's language")
        ax.bar(pos, english, width, bottom=same, color="white", edgecolor=color, hatch="///",
               label=f"{stage}: English")
    ax.set_xticks(x, [short_label(l) for l in langs])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of continuations")
    ax.set_title(f"Language of continuations — {label}")
    ax.legend(fontsize=7, ncol=max(1, len(stages)), loc="lower left")
    save_figure(fig, out)
