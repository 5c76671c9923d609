"""Table 3: multilingual capability before and after English DPO, and its change beside the toxicity change.

Inputs are the capability records of xdetox.capability (one JSON per model, stage, benchmark, language) and,
optionally, the workflow's per-language toxicity metrics (results/metrics/{scorer}/{model}/{stage}/{lang}.json).

Standard errors are the harness's (sample standard deviation of per-item scores / √n). Before and after are scored
on the same items, so the standard error of the change shown here, √(SE_before² + SE_after²), treats them as
independent and overstates the uncertainty of the change (the paired one is smaller).
"""

from __future__ import annotations

import csv
import math
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .. import XdetoxError
from ..io import atomic_open, write_text
from ..languages import short_label
from .paper_table3 import PAPER_COLUMN, PAPER_TABLE3

BEFORE, AFTER = "base", "dpo"
METRICS = ("acc", "acc_norm")
CSV_FIELDS = ["model", "label", "benchmark", "lang", "metric", "table_metric", "num_fewshot", "split", "n",
              "before", "before_stderr", "after", "after_stderr", "change", "change_stderr"]


def _title(benchmark: str) -> str:
    from ..capability.benchmarks import BENCHMARKS

    return BENCHMARKS[benchmark].title if benchmark in BENCHMARKS else benchmark


def pair_records(records: Iterable[Mapping], before: str = BEFORE, after: str = AFTER) -> "OrderedDict":
    """(model, benchmark, lang) → {before: record, after: record}, in the order first seen; both stages required."""
    pairs: "OrderedDict[tuple[str, str, str], dict[str, Mapping]]" = OrderedDict()
    for rec in records:
        for key in ("model", "stage", "benchmark", "lang"):
            if key not in rec:
                raise XdetoxError(f"capability record without {key!r}: {dict(rec)}")
        if rec["stage"] not in (before, after):
            continue
        slot = pairs.setdefault((rec["model"], rec["benchmark"], rec["lang"]), {})
        if rec["stage"] in slot:
            raise XdetoxError(f"two capability records for {rec['model']}/{rec['stage']}/{rec['benchmark']}/"
                              f"{rec['lang']}")
        slot[rec["stage"]] = rec
    for (model, bench, lang), slot in pairs.items():
        missing = [s for s in (before, after) if s not in slot]
        if missing:
            raise XdetoxError(f"capability of {model} on {bench}/{lang}: no record for stage(s) {', '.join(missing)}")
        b, a = slot[before], slot[after]
        for key in ("num_fewshot", "split", "n"):
            if b.get(key) != a.get(key):
                raise XdetoxError(f"capability of {model} on {bench}/{lang}: {key} differs before ({b.get(key)}) and "
                                  f"after ({a.get(key)}) DPO; the two stages must be evaluated alike")
    return pairs


def _diff(b, a):
    return None if b is None or a is None else a - b


def _diff_se(sb, sa):
    return None if sb is None or sa is None else math.sqrt(sb * sb + sa * sa)


def rows(records: Iterable[Mapping], labels: Mapping[str, str] | None = None) -> list[dict]:
    """One row per (model, benchmark, lang, metric): before / after with standard errors, and the change."""
    labels = labels or {}
    out = []
    for (model, bench, lang), slot in pair_records(records).items():
        b, a = slot[BEFORE], slot[AFTER]
        metrics = [m for m in METRICS if b.get(m) is not None or a.get(m) is not None]
        for metric in metrics:
            out.append({
                "model": model, "label": labels.get(model, model), "benchmark": bench, "lang": lang,
                "metric": metric, "table_metric": b.get("table_metric") or metrics[0],
                "num_fewshot": b.get("num_fewshot"), "split": b.get("split"), "n": b.get("n"),
                "before": b.get(metric), "before_stderr": b.get(f"{metric}_stderr"),
                "after": a.get(metric), "after_stderr": a.get(f"{metric}_stderr"),
                "change": _diff(b.get(metric), a.get(metric)),
                "change_stderr": _diff_se(b.get(f"{metric}_stderr"), a.get(f"{metric}_stderr")),
            })
    return out


def shown_rows(table_rows: Sequence[dict]) -> list[dict]:
    """The rows the Markdown / LaTeX tables show: each benchmark's table metric."""
    return [r for r in table_rows if r["metric"] == r["table_metric"]]


def pct(value, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"


def cell(value, se, signed: bool = False) -> str:
    text = pct(value, signed)
    return text if se is None or text == "—" else f"{text} ± {100 * se:.2f}"


def _bench_order(benchmark: str) -> int:
    from ..capability.benchmarks import BENCHMARKS

    return list(BENCHMARKS).index(benchmark) if benchmark in BENCHMARKS else len(BENCHMARKS)


def _layout(table_rows: Sequence[dict]):
    """model → (benchmarks in the paper's order, langs in the records' order, {(bench, lang): row})."""
    layout: "OrderedDict[str, tuple[list, list, dict]]" = OrderedDict()
    for r in shown_rows(table_rows):
        benches, langs, cells = layout.setdefault(r["model"], ([], [], {}))
        if r["benchmark"] not in benches:
            benches.append(r["benchmark"])
            benches.sort(key=_bench_order)
        if r["lang"] not in langs:
            langs.append(r["lang"])
        cells[(r["benchmark"], r["lang"])] = r
    return layout


def _bench_header(bench: str, cells: dict) -> str:
    r = next(v for (b, _), v in cells.items() if b == bench)
    return f"{_title(bench)} ({r['metric']}, {r['num_fewshot']}-shot, {r['split']})"


def markdown(table_rows: Sequence[dict], caption: str, notes: Sequence[str] = ()) -> str:
    lines = [caption, ""]
    labels = {r["model"]: r["label"] for r in table_rows}
    for model, (benches, langs, cells) in _layout(table_rows).items():
        lines += [f"**{labels[model]}**", ""]
        head = ["Lang"]
        for bench in benches:
            name = _bench_header(bench, cells)
            head += [f"{name} before", "after", "Δ"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for lang in langs:
            row = [short_label(lang)]
            for bench in benches:
                r = cells.get((bench, lang))
                if r is None:
                    row += ["—", "—", "—"]
                else:
                    row += [cell(r["before"], r["before_stderr"]), cell(r["after"], r["after_stderr"]),
                            cell(r["change"], r["change_stderr"], signed=True)]
            lines.append("| " + " | ".join(row) + " |")
        sizes = []
        for bench in benches:
            ns = [r["n"] for (b, _), r in cells.items() if b == bench and r["n"] is not None]
            if ns:
                span = f"{min(ns)}" if min(ns) == max(ns) else f"{min(ns)}–{max(ns)}"
                sizes.append(f"{_title(bench)} {span}")
        lines += ["", "Items per language: " + "; ".join(sizes) + ".", ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def _tex_cell(value, se, signed=False) -> str:
    text = pct(value, signed)
    if text == "—":
        return "--"
    return f"{text}" if se is None else f"{text}$\\pm${100 * se:.2f}"


def latex(table_rows: Sequence[dict], caption: str) -> str:
    """`caption` is LaTeX source (not escaped)."""
    layout = _layout(table_rows)
    labels = {r["model"]: r["label"] for r in table_rows}
    benches = list(OrderedDict.fromkeys(b for bs, _, _ in layout.values() for b in bs))
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\setlength{\tabcolsep}{3pt}",
             r"\begin{tabular}{l" + "rrr" * len(benches) + "}", r"\toprule"]
    first_cells = {}
    for _, (bs, _, cells) in layout.items():
        for b in bs:
            first_cells.setdefault(b, cells)
    lines.append(" & ".join(["Lang"] + [rf"\multicolumn{{3}}{{c}}{{{_tex(_bench_header(b, first_cells[b]))}}}"
                                         for b in benches]) + r" \\")
    lines.append(" ".join(rf"\cmidrule(lr){{{2 + 3 * i}-{4 + 3 * i}}}" for i in range(len(benches))))
    lines.append(" & ".join([""] + ["Before", "After", r"$\Delta$"] * len(benches)) + r" \\")
    for model, (_, langs, cells) in layout.items():
        lines.append(r"\midrule")
        lines.append(rf"\multicolumn{{{1 + 3 * len(benches)}}}{{l}}{{\textit{{{_tex(labels[model])}}}}} \\")
        for lang in langs:
            row = [_tex(short_label(lang))]
            for b in benches:
                r = cells.get((b, lang))
                row += (["--"] * 3 if r is None else
                        [_tex_cell(r["before"], r["before_stderr"]), _tex_cell(r["after"], r["after_stderr"]),
                         _tex_cell(r["change"], r["change_stderr"], signed=True)])
            lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + caption + "}", r"\label{tab:table3}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_csv(path, table_rows: Sequence[dict]) -> None:
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in table_rows:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_FIELDS})


CAPTION = ("Table 3: multilingual capability before and after English DPO (accuracy in %, ± the harness's standard "
           "error; Δ = after − before, ± √(SE_before² + SE_after²), an upper bound since both stages are scored on "
           "the same items).")


TEX_CAPTION = (r"Multilingual capability before and after English DPO (accuracy in \%, $\pm$ the harness's standard "
               r"error; $\Delta$ = after $-$ before, $\pm\sqrt{\mathrm{SE}_\mathrm{before}^2 + "
               r"\mathrm{SE}_\mathrm{after}^2}$, an upper bound since both stages are scored on the same items).")


def table3(records: Iterable[Mapping], csv_out, md_out, tex_out, labels: Mapping[str, str] | None = None,
           notes: Sequence[str] = ()) -> list[dict]:
    """Write table3.{csv,md,tex}; returns the CSV rows."""
    table_rows = rows(list(records), labels)
    if not table_rows:
        raise XdetoxError("Table 3: no capability records for both stages (base and dpo)")
    write_csv(csv_out, table_rows)
    write_text(md_out, markdown(table_rows, CAPTION, notes))
    write_text(tex_out, latex(table_rows, TEX_CAPTION))
    return table_rows


# ---------------------------------------------------------------------------------------------- paper comparison

PAPER_FIELDS = ["model", "label", "paper_model", "benchmark", "paper_column", "lang", "metric", "ours_before",
                "paper_before", "ours_after", "paper_after", "ours_change", "paper_change"]


def paper_records(table_rows: Sequence[dict], paper_refs: Mapping[str, str | None]) -> list[dict]:
    """Our shown Table 3 values beside the paper's (in %), for models whose paper_reference has a Table 3."""
    records = []
    for r in shown_rows(table_rows):
        ref = paper_refs.get(r["model"])
        if ref not in PAPER_TABLE3:
            continue
        paper_label, paper = PAPER_TABLE3[ref]
        column = PAPER_COLUMN.get(r["benchmark"])
        values = paper.get(r["lang"], {}).get(column)
        if values is None:
            continue
        records.append({"model": r["model"], "label": r["label"], "paper_model": paper_label,
                        "benchmark": r["benchmark"], "paper_column": column, "lang": r["lang"], "metric": r["metric"],
                        "ours_before": 100 * r["before"], "paper_before": values[0],
                        "ours_after": 100 * r["after"], "paper_after": values[1],
                        "ours_change": 100 * r["change"], "paper_change": round(values[1] - values[0], 2)})
    return records


def read_paper_records(path) -> list[dict]:
    """The records of a table3 paper-comparison CSV, numbers as floats."""
    numeric = {k for k in PAPER_FIELDS if k.startswith(("ours_", "paper_")) and k != "paper_model"
               and k != "paper_column"}
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != PAPER_FIELDS:
            raise XdetoxError(f"{path}: not a Table 3 paper comparison (columns {reader.fieldnames})")
        return [{k: (float(v) if k in numeric else v) for k, v in row.items()} for row in reader]


def paper_markdown(records: Sequence[dict]) -> list[str]:
    lines = ["Our Table 3 beside the paper's (Table 3; BLOOM-7B1, vi/ru/hi/zh; the paper does not state the metric or "
             "the shots). Each cell is ours / paper's, in %.", ""]
    if records:
        lines += ["| Model (ours) | Paper model | Benchmark | Lang | Metric (ours) | Before | After | Δ |",
                  "|---|---|---|---|---|---|---|---|"]
        for rec in records:
            lines.append(f"| {rec['label']} | {rec['paper_model']} | {_title(rec['benchmark'])} | "
                         f"{short_label(rec['lang'])} | {rec['metric']} | {rec['ours_before']:.2f} / "
                         f"{rec['paper_before']:.2f} | {rec['ours_after']:.2f} / {rec['paper_after']:.2f} | "
                         f"{rec['ours_change']:+.2f} / {rec['paper_change']:+.2f} |")
    else:
        lines.append("No evaluated model and language has a Table 3 value in the paper (BLOOM-7B1 on vi, ru, hi, zh).")
    return lines


def paper_comparison(table_rows: Sequence[dict], paper_refs: Mapping[str, str | None], csv_out, md_out) -> list[dict]:
    """Our Table 3 values beside the paper's, for models whose paper_reference has a Table 3 (BLOOM-7B1)."""
    records = paper_records(table_rows, paper_refs)
    with atomic_open(csv_out) as handle:
        writer = csv.DictWriter(handle, fieldnames=PAPER_FIELDS)
        writer.writeheader()
        writer.writerows(records)
    write_text(md_out, "\n".join(paper_markdown(records)) + "\n")
    return records


# -------------------------------------------------------------------------------------------------------- figure

def toxicity_change(metrics: Mapping[tuple[str, str, str], Mapping], model: str, langs: Sequence[str],
                    key: str = "emt") -> list[float | None]:
    """after − before of a toxicity metric per language; None where either stage has no metrics (e.g. vi)."""
    out = []
    for lang in langs:
        b, a = metrics.get((model, BEFORE, lang)), metrics.get((model, AFTER, lang))
        out.append(None if b is None or a is None else float(a[key]) - float(b[key]))
    return out


def figure(table_rows: Sequence[dict], out: str | Path, toxicity: Mapping[tuple[str, str, str], Mapping] | None = None,
           toxicity_key: str = "emt", scorer: str = "") -> None:
    """Per model: (a) capability change per language and benchmark (± 1.96 SE), (b) toxicity change per language."""
    from .render import plt, save_figure

    layout = _layout(table_rows)
    labels = {r["model"]: r["label"] for r in table_rows}
    toxicity = toxicity or {}
    n_langs = max(len(langs) for _, langs, _ in layout.values())
    fig, axes = plt.subplots(len(layout), 2, figsize=(max(8, 1.1 * n_langs + 5), 3.2 * len(layout)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.4, 1]})
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
    tox_name = {"emt": "EMT", "tox_prob": "ToxProb", "avg_tox": "AvgTox"}.get(toxicity_key, toxicity_key)
    for row, (model, (benches, langs, cells)) in enumerate(layout.items()):
        ax = axes[row][0]
        x = np.arange(len(langs))
        width = 0.8 / len(benches)
        for i, bench in enumerate(benches):
            vals = [cells.get((bench, lang)) for lang in langs]
            y = np.array([np.nan if r is None or r["change"] is None else 100 * r["change"] for r in vals])
            err = np.array([0 if r is None or r["change_stderr"] is None else 196 * r["change_stderr"] for r in vals])
            ax.bar(x + (i - (len(benches) - 1) / 2) * width, y, width, yerr=err, capsize=2,
                   color=colors[i % len(colors)], label=f"{_title(bench)} ({next(r for r in vals if r)['metric']})",
                   error_kw={"elinewidth": 0.8})
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels([short_label(lang) for lang in langs])
        ax.set_xlim(-0.6, len(langs) - 0.4)
        ax.set_ylabel("Δ accuracy (points)")
        ax.set_title(f"(a) {labels[model]}: capability change after DPO (± 1.96 SE)", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)

        ax = axes[row][1]
        change = toxicity_change(toxicity, model, langs, toxicity_key)
        y = np.array([np.nan if c is None else c for c in change])
        ax.bar(x, y, 0.6, color="#d62728")
        for xi, c in zip(x, change):
            if c is None:
                ax.text(xi, 0.5, "n/a", ha="center", va="center", fontsize=8, color="gray",
                        transform=ax.get_xaxis_transform())
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels([short_label(lang) for lang in langs])
        ax.set_xlim(-0.6, len(langs) - 0.4)
        ax.set_ylabel(f"Δ {tox_name}")
        ax.set_title(f"(b) toxicity change after DPO ({tox_name}{', ' + scorer if scorer else ''})", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    save_figure(fig, out, note="n/a: no toxicity metrics for that language (e.g. vi is not an RTP-LX language).")
