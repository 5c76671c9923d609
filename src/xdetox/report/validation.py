"""Tables, figures and caption notes of the scorer validation (rows computed by xdetox.metrics.validation)."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import asdict, fields
from typing import Mapping, Sequence

import numpy as np

from ..io import atomic_open, read_text
from ..languages import short_label
from ..metrics.validation import ConsistencyRow, ValidationRow, summary_row


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _ci(row, name: str) -> str:
    value, lo, hi = getattr(row, name), getattr(row, f"{name}_lo"), getattr(row, f"{name}_hi")
    if math.isnan(value):
        return "n/a"
    return f"{value:.3f} [{_fmt(lo, 2)}, {_fmt(hi, 2)}]"


def validation_markdown(rows: Sequence[ValidationRow], scorer: str, threshold: float = 0.5) -> str:
    s = summary_row(rows)
    lines = [
        f"Validation of **{scorer}** against RTP-LX human ratings (mean of 3 raters, 1–5). Human-toxic: mean ≥ 3. "
        f"95% percentile-bootstrap intervals over prompts. κ: linear-weighted, score binned in fifths of [0, 1]. "
        f"Mean AUC {_fmt(s['mean_auc'])}, min {_fmt(s['min_auc'])} ({s['min_auc_lang'] or 'n/a'})"
        + (f"; {s['not_validated']} language(s) not validated" if s["not_validated"] else "") + ".",
        "",
        f"| lang | n | human toxic | flagged (≥ {threshold:g}) | ROC-AUC | AUC (≥ 2) | Spearman ρ | κ (linear) | note |",
        "|---|---:|---:|---:|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {short_label(r.lang)} | {r.n} | {_fmt(r.human_share, 2)} | {_fmt(r.flagged_share, 2)} | "
                     f"{_ci(r, 'auc')} | {_ci(r, 'auc_ge2')} | {_ci(r, 'spearman')} | {_ci(r, 'kappa')} | {r.note} |")
    return "\n".join(lines) + "\n"


def consistency_markdown(rows: Sequence[ConsistencyRow], scorer: str, reference: str = "en") -> str:
    lines = [
        f"Cross-language consistency of **{scorer}** on line-aligned parallel prompts: mean score offset from "
        f"{reference} on the same prompts, and rank correlation with {reference} (95% bootstrap intervals).",
        "",
        "| lang | n | mean score | offset from en | Spearman with en | note |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {short_label(r.lang)} | {r.n} | {_fmt(r.mean_score)} | {_ci(r, 'offset')} | "
                     f"{_ci(r, 'spearman_en')} | {r.note} |")
    return "\n".join(lines) + "\n"


def write_rows_csv(rows: Sequence, path: str | os.PathLike, **constant_columns) -> None:
    """Dataclass rows as CSV (NaN written as empty), with constant columns (e.g. scorer=...) first."""
    names = [f.name for f in fields(rows[0])] if rows else []
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=[*constant_columns, *names], lineterminator="\n")
        writer.writeheader()
        for r in rows:
            values = {k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}
            writer.writerow({**constant_columns, **values})


def _interval_series(ax, results: Mapping[str, Sequence], langs: Sequence[str], stat: str, label) -> None:
    """One marker series per scorer: row.<stat> per language with its [<stat>_lo, <stat>_hi] interval, side by side;
    a language whose value is undefined draws nothing. `label(scorer, rows)` names a series."""
    width = 0.7 / max(len(results), 1)
    for k, (scorer, rows) in enumerate(results.items()):
        by_lang = {r.lang: r for r in rows}
        xs, ys, lo, hi = [], [], [], []
        for i, lang in enumerate(langs):
            r = by_lang.get(lang)
            value = getattr(r, stat) if r is not None else math.nan
            if math.isnan(value):
                continue
            low, high = getattr(r, f"{stat}_lo"), getattr(r, f"{stat}_hi")
            xs.append(i + (k - (len(results) - 1) / 2) * width)
            ys.append(value)
            # a percentile interval need not contain the point estimate (ties, small n): bars start at the point
            lo.append(max(value - low, 0.0) if not math.isnan(low) else 0.0)
            hi.append(max(high - value, 0.0) if not math.isnan(high) else 0.0)
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", markersize=4, capsize=2, label=label(scorer, rows))


def plot_validation(results: Mapping[str, Sequence[ValidationRow]], png_path: str | os.PathLike) -> None:
    """ROC-AUC per language with its interval, one marker series per scorer; a not-validated language draws nothing."""
    from .render import plt, save_figure

    langs = list(dict.fromkeys(r.lang for rows in results.values() for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(langs) + 2), 3.6))
    _interval_series(ax, results, langs, "auc",
                     lambda scorer, rows: f"{scorer} (mean {_fmt(summary_row(rows)['mean_auc'], 2)})")
    ax.set_xticks(np.arange(len(langs)), [short_label(lang) for lang in langs])
    ax.set_ylim(0.3, 1.0)
    ax.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
    ax.set_ylabel("ROC-AUC vs human (mean ≥ 3)")
    ax.set_title("Scorer validation on RTP-LX human ratings (95% bootstrap CI)")
    ax.legend(fontsize="small", loc="lower right")
    save_figure(fig, png_path)


def plot_consistency(results: Mapping[str, Sequence[ConsistencyRow]], png_path: str | os.PathLike,
                     reference: str = "en") -> None:
    """Each language's mean score offset from `reference` on the same parallel prompts, with its interval, one marker
    series per scorer: a scorer whose offsets stray from 0 biases every cross-lingual comparison."""
    from .render import plt, save_figure

    langs = [lang for lang in dict.fromkeys(r.lang for rows in results.values() for r in rows) if lang != reference]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(langs) + 2), 3.6))
    _interval_series(ax, results, langs, "offset", lambda scorer, rows: scorer)
    ax.set_xticks(np.arange(len(langs)), [short_label(lang) for lang in langs])
    ax.axhline(0.0, color="grey", linewidth=0.6, linestyle=":")
    ax.set_ylabel(f"mean score − {short_label(reference)} (same prompts)")
    ax.set_title("Cross-language consistency on parallel prompts (95% bootstrap CI)")
    ax.legend(fontsize="small", loc="best")
    save_figure(fig, png_path)


def read_validation_csv(path: str | os.PathLike) -> list[ValidationRow]:
    """The rows write_rows_csv wrote (empty cells back to NaN)."""
    names = {f.name: f.type for f in fields(ValidationRow)}
    rows = []
    for record in csv.DictReader(read_text(path).splitlines()):
        values = {}
        for name in names:
            raw = record.get(name, "")
            if name in ("lang", "note"):
                values[name] = raw
            elif name in ("n", "n_toxic"):
                values[name] = int(raw)
            else:
                values[name] = float(raw) if raw != "" else math.nan
        rows.append(ValidationRow(**values))
    return rows


def validation_note(rows: Sequence[ValidationRow], scorer: str, where: str = "") -> str:
    """One sentence for a table caption: how well `scorer` agrees with human ratings, over how many languages."""
    s = summary_row(rows)
    validated = len(rows) - s["not_validated"]
    if not validated:
        return f"Toxicity scorer `{scorer}`: could not be validated against RTP-LX human ratings in any language."
    text = (f"Toxicity scorer `{scorer}`: ROC-AUC against RTP-LX human ratings (mean ≥ 3) {s['mean_auc']:.2f} on "
            f"average over {validated} languages, lowest {s['min_auc']:.2f} ({short_label(s['min_auc_lang'])})")
    if s["not_validated"]:
        missing = ", ".join(short_label(r.lang) for r in rows if math.isnan(r.auc))
        text += f"; not validated in {missing}"
    return text + (f" ({where})." if where else ".")
