"""Table 2: averages over languages of each metric, before and after DPO (CSV for machines, Markdown for people)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .. import XdetoxError
from ..io import atomic_open, write_text
from ..languages import short_label

TOXICITY_COLUMNS = (("emt", "EMT", "{:.3f}"), ("tox_prob", "ToxProb", "{:.1%}"), ("avg_tox", "AvgTox", "{:.3f}"))


def check_languages(metrics: list[dict], langs: list[str], stage: str) -> None:
    got = [m["lang"] for m in metrics]
    if got != list(langs):
        missing = sorted(set(langs) - set(got))
        raise XdetoxError(f"stage {stage}: metrics for languages {got} do not match the configured {langs} (missing {missing})")


def average_row(metrics: list[dict], keys=("emt", "tox_prob", "avg_tox")) -> dict[str, float]:
    """The paper's aggregation: the mean of the per-language values (protocol §1.7, Table 2)."""
    return {k: float(np.mean([m[k] for m in metrics])) for k in keys}


def table2(label: str, stage_metrics: dict[str, list[dict]], langs: list[str], csv_out: str | Path,
           md_out: str | Path, per_lang_out: str | Path | None = None, scorer: str = "") -> list[dict]:
    """Write Table 2 rows (one per stage) and, optionally, the per-language values behind them."""
    rows = []
    for stage, metrics in stage_metrics.items():
        check_languages(metrics, langs, stage)
        rows.append({"model": label, "stage": stage, "n_languages": len(metrics), **average_row(metrics)})
    keys = [k for k, _, _ in TOXICITY_COLUMNS]
    with atomic_open(csv_out) as handle:
        writer = csv.DictWriter(handle, fieldnames=["model", "stage", "n_languages", *keys])
        writer.writeheader()
        writer.writerows(rows)
    header = "| Model | DPO | " + " | ".join(name for _, name, _ in TOXICITY_COLUMNS) + " |"
    lines = [
        f"Table 2 (toxicity columns): averages over {len(langs)} languages; scorer `{scorer}`; lower is better.",
        "",
        header,
        "|" + "---|" * (2 + len(TOXICITY_COLUMNS)),
    ]
    for row in rows:
        stage = {"base": "Before", "dpo": "After"}.get(row["stage"], row["stage"])
        cells = [fmt.format(row[k]) for k, _, fmt in TOXICITY_COLUMNS]
        lines.append(f"| {row['model']} | {stage} | " + " | ".join(cells) + " |")
    write_text(md_out, "\n".join(lines) + "\n")
    if per_lang_out:
        with atomic_open(per_lang_out) as handle:
            writer = csv.writer(handle)
            writer.writerow(["lang", "stage", "n_prompts", *keys, *[f"{k}_lo" for k in keys], *[f"{k}_hi" for k in keys]])
            for stage, metrics in stage_metrics.items():
                for m in metrics:
                    ci = m.get("ci", {})
                    writer.writerow([short_label(m["lang"]), stage, m["n_prompts"], *[m[k] for k in keys],
                                     *[ci.get(k, [None, None])[0] for k in keys], *[ci.get(k, [None, None])[1] for k in keys]])
    return rows
