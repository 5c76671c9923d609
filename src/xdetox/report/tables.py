"""Tables 1 and 2, the seed summary and the comparison with the paper: CSV for machines, Markdown for people,
LaTeX for the paper's Table 2. The values are computed by xdetox.metrics.aggregate; these functions only render."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Mapping, Sequence

from ..io import atomic_open, write_csv, write_text
from ..languages import short_label
from ..metrics.aggregate import seed_summary
from .paper_numbers import COLUMNS as PAPER_COLUMNS
from .paper_numbers import PAPER_TABLE2
from .markdown import md_cell

TOXICITY_COLUMNS = (("emt", "EMT", "{:.3f}"), ("tox_prob", "ToxProb", "{:.1%}"), ("avg_tox", "AvgTox", "{:.3f}"))
FLUENCY_COLUMNS = (("ppl", "PPL", "{:.2f}"),)
DIVERSITY_COLUMNS = (("dist1", "Dist-1", "{:.3f}"), ("dist2", "Dist-2", "{:.3f}"), ("dist3", "Dist-3", "{:.3f}"))
#: not in the paper: toxicity over the continuations in the prompt's language, and their share
#: (xdetox.metrics.language_aware), after the paper's columns
LANGUAGE_COLUMNS = (("emt_in", "EMT in-lang", "{:.3f}"), ("tox_prob_in", "ToxProb in-lang", "{:.1%}"),
                    ("in_language_share", "In-lang share", "{:.1%}"))
LANGUAGE_KEYS = tuple(k for k, _, _ in LANGUAGE_COLUMNS)
ALL_COLUMNS = TOXICITY_COLUMNS + FLUENCY_COLUMNS + DIVERSITY_COLUMNS + LANGUAGE_COLUMNS
#: ↓ lower is better, ↑ higher is better (the paper's column directions)
DIRECTION = {"emt": "↓", "tox_prob": "↓", "avg_tox": "↓", "ppl": "↓", "dist1": "↑", "dist2": "↑", "dist3": "↑",
             "emt_in": "↓", "tox_prob_in": "↓", "in_language_share": "↑"}
STAGE_NAMES = {"base": "Before", "dpo": "After"}
#: a row's text column (not a number): why its DPO stage reads as degenerate, empty when it does not
DEGENERATE = "degenerate"
DEGENERATE_MARK = "⚠ degenerate"
LANGUAGE_NOTE = ("Extra columns, not in the paper: EMT in-lang and ToxProb in-lang are over only the continuations "
                 "identified as the prompt's language (a prompt with none is left out), In-lang share is the share of "
                 "all continuations identified as the prompt's language; averages over languages. Per language, and "
                 "how much of the change the language mix explains: language_aware.md.")


def fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return spec.format(value)


def columns_for(rows: Sequence[dict]):
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    return [c for c in ALL_COLUMNS if c[0] in present]


def stage_name(row: Mapping, mark: str = DEGENERATE_MARK) -> str:
    name = STAGE_NAMES.get(row["stage"], row["stage"])
    return f"{name} {mark}" if row.get(DEGENERATE) else name


def column_notes(rows: Sequence[dict], columns) -> list[str]:
    """The notes every Table 2 carries: what the extra columns are, and each degenerate row's reasons."""
    notes = [LANGUAGE_NOTE] if any(k in LANGUAGE_KEYS for k, _, _ in columns) else []
    for row in rows:
        if row.get(DEGENERATE):
            notes.append(f"{DEGENERATE_MARK} ({row['model']}, {stage_name(row, '').strip()}): {row[DEGENERATE]}. "
                         "Read its toxicity drop as degeneration, not detoxification (bounds: "
                         "evaluation.degeneration).")
    return notes


def markdown_table(rows: Sequence[dict], columns=None, caption: str = "", notes: Sequence[str] = ()) -> str:
    columns = columns or columns_for(rows)
    notes = [*column_notes(rows, columns), *notes]
    header = "| Model | DPO | " + " | ".join(name for _, name, _ in columns) + " |"
    lower = [name for k, name, _ in columns if DIRECTION[k] == "↓"]
    higher = [name for k, name, _ in columns if DIRECTION[k] == "↑"]
    direction = f"Lower is better for {', '.join(lower)}" + (f"; higher for {', '.join(higher)}." if higher else ".")
    lines = [caption + " " + direction, ""] if caption else []
    lines += [header, "|" + "---|" * (2 + len(columns))]
    for row in rows:
        lines.append(f"| {row['model']} | {stage_name(row)} | " + " | ".join(fmt(row.get(k), f) for k, _, f in columns) + " |")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def latex_table(rows: Sequence[dict], columns=None, caption: str = "") -> str:
    """A booktabs table laid out like the paper's Table 2 (models grouped, Before/After rows)."""
    columns = columns or columns_for(rows)
    arrows = {"↓": r"$\downarrow$", "↑": r"$\uparrow$"}
    head = " & ".join(["Model", "DPO"] + [f"{_tex_escape(name)} {arrows[DIRECTION[k]]}" for k, name, _ in columns])
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{ll" + "r" * len(columns) + "}",
             r"\toprule", head + r" \\", r"\midrule"]
    last = None
    for row in rows:
        if last is not None and row["model"] != last:
            lines.append(r"\midrule")
        model = _tex_escape(row["model"]) if row["model"] != last else ""
        last = row["model"]
        cells = [_tex_escape(fmt(row.get(k), f)) for k, _, f in columns]
        lines.append(" & ".join([model, _tex_escape(stage_name(row, "(degenerate)"))] + cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(r"\caption{" + _tex_escape(caption) + "}")
    lines += [r"\label{tab:table2}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_rows_csv(path, rows: Sequence[dict], columns) -> None:
    keys = [k for k, _, _ in columns] + ([DEGENERATE] if any(DEGENERATE in r for r in rows) else [])
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=["model", "stage", "n_languages", *keys], extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in ["model", "stage", "n_languages", *keys]})


def read_rows_csv(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in list(row):
            if key not in ("model", "stage", DEGENERATE):
                row[key] = float(row[key]) if row[key] not in ("", None) else None
    return rows


def table2(rows: Sequence[dict], n_languages: int, csv_out: str | Path, md_out: str | Path, tex_out: str | Path,
           scorer: str, notes: Sequence[str] = ()) -> None:
    """One model's Table 2 (rows from xdetox.metrics.aggregate.table2_rows); only the toxicity columns when fluency
    and diversity are disabled."""
    columns = columns_for(rows)
    quality = {k for k, _, _ in FLUENCY_COLUMNS + DIVERSITY_COLUMNS}
    parts = "toxicity, fluency and diversity" if any(k in quality for k, _, _ in columns) else "toxicity columns"
    caption = (f"Table 2 ({parts}): averages over {n_languages} languages before and after English DPO; "
               f"toxicity scorer `{scorer}`.")
    _write_table2(rows, columns, caption, notes, csv_out, md_out, tex_out)


def _write_table2(rows, columns, caption, notes, csv_out, md_out, tex_out) -> None:
    write_rows_csv(csv_out, rows, columns)
    write_text(md_out, markdown_table(rows, columns, caption, notes))
    write_text(tex_out, latex_table(rows, columns, caption.replace("`", "")))


def per_language(path, stage_metrics, fluency=None, diversity=None) -> None:
    """The per-language values behind Table 2, with the bootstrap intervals of the toxicity metrics."""
    keys = [k for k, _, _ in TOXICITY_COLUMNS]
    extra = (["ppl_median", "ppl_q1", "ppl_q3", "ppl_n"] if fluency else []) + (
        ["dist1", "dist2", "dist3"] if diversity else [])
    with atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["lang", "stage", "n_prompts", *keys, *[f"{k}_lo" for k in keys], *[f"{k}_hi" for k in keys],
                         *extra])
        for stage, metrics in stage_metrics.items():
            for i, m in enumerate(metrics):
                ci = m.get("ci", {})  # no intervals when evaluation.bootstrap.n is 0
                row = [short_label(m["lang"]), stage, m["n_prompts"], *[m[k] for k in keys],
                       *[ci.get(k, [None, None])[0] for k in keys], *[ci.get(k, [None, None])[1] for k in keys]]
                if fluency:
                    f = fluency[stage][i]
                    row += [f["median"], f["q1"], f["q3"], f["n_kept"]]
                if diversity:
                    d = diversity[stage][i]
                    row += [d["dist1"], d["dist2"], d["dist3"]]
                writer.writerow(row)


def table2_all(model_rows: Sequence[Sequence[dict]], csv_out, md_out, tex_out, scorer: str = "",
               n_languages: int | None = None, notes: Sequence[str] = ()) -> list[dict]:
    """Table 2 for all configured models: the per-model tables' rows, one block per model."""
    rows = [row for block in model_rows for row in block]
    columns = [c for c in columns_for(rows) if any(r.get(c[0]) is not None for r in rows)]
    langs = f"{n_languages} languages" if n_languages else "the configured languages"
    caption = (f"Table 2: average scores in toxicity, fluency and diversity of continuations over {langs}, before "
               f"and after English DPO; toxicity scorer `{scorer}`.")
    _write_table2(rows, columns, caption, notes, csv_out, md_out, tex_out)
    return rows


# ------------------------------------------------------------------------------------------------------ seed summary

def seeds_table(label: str, base_row: dict, seed_rows: dict[int, dict], csv_out, md_out, scorer: str) -> list[dict]:
    """Table 2 with the DPO row as mean ± std across DPO seeds (the base row is a single run)."""
    columns = columns_for([base_row, *seed_rows.values()])
    records = seed_summary(base_row, seed_rows, [key for key, _, _ in columns])
    with atomic_open(csv_out) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    seeds = ", ".join(str(s) for s in seed_rows)
    lines = [f"Table 2 over DPO seeds ({label}; seeds {seeds}; scorer `{scorer}`): the After row is the mean ± sample "
             f"standard deviation across the {len(seed_rows)} DPO runs of the per-run language averages.", "",
             "| Model | DPO | " + " | ".join(name for _, name, _ in columns) + " |",
             "|" + "---|" * (2 + len(columns)),
             f"| {label} | Before | " + " | ".join(fmt(base_row.get(k), f) for k, _, f in columns) + " |"]
    cells = []
    for rec, (key, _, spec) in zip(records, columns):
        cells.append("—" if rec["dpo_mean"] is None else f"{fmt(rec['dpo_mean'], spec)} ± {fmt(rec['dpo_std'], spec)}")
    lines.append(f"| {label} | After ({len(seed_rows)} seeds) | " + " | ".join(cells) + " |")
    write_text(md_out, "\n".join(lines) + "\n")
    return records


# ----------------------------------------------------------------------------------------------------------- Table 1

def table1(rows: Sequence[dict], csv_out, md_out, label: str, scorer: str, stage: str) -> None:
    """Rows {lang, prompt_id, sample, prompt, before, after, tox_before, tox_after} → CSV and Markdown."""
    fields = ["lang", "prompt_id", "sample", "prompt", "before", "after", "tox_before", "tox_after"]
    write_csv(csv_out, ({k: r[k] for k in fields} for r in rows), fields)
    lines = [f"Table 1: continuations of {label} before and after English DPO (stage `{stage}`). For each language, "
             f"the prompt(s) whose base continuation scored most toxic ({scorer}); the After column is the DPO model's "
             "continuation for the same prompt and sample index. ⏎ marks a line break. Content warning: toxic text.",
             "", "| Lang | Input prompt | Before DPO | After DPO |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {short_label(r['lang'])} | {md_cell(r['prompt'])} | {md_cell(r['before'])} "
                     f"({r['tox_before']:.2f}) | {md_cell(r['after'])} ({r['tox_after']:.2f}) |")
    write_text(md_out, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------- comparison with paper

def paper_comparison(ours: Sequence[tuple[str, str, dict[str, dict]]], csv_out, md_out, scorer: str,
                     notes: Sequence[str] = (), table3: Sequence[Mapping] = ()) -> list[dict]:
    """`ours`: (our label, paper_reference, {stage: row}) → our Table 2 rows beside the paper's Table 2.

    `table3`: Table 3's paper-comparison records (xdetox.report.table3.paper_records), put after Table 2: in the CSV
    as rows whose metric is "table3 {benchmark}/{lang} {metric}" (values in %), in the Markdown as their own table.
    """
    records = []
    for label, ref, stage_rows in ours:
        paper_label, paper = PAPER_TABLE2[ref]
        for stage in ("base", "dpo"):
            row = stage_rows.get(stage, {})
            for key in PAPER_COLUMNS:
                records.append({"model": label, "paper_model": paper_label, "stage": stage, "metric": key,
                                "ours": row.get(key), "paper": paper[stage][key]})
    for rec in table3:
        for stage, when in (("base", "before"), ("dpo", "after")):
            records.append({"model": rec["label"], "paper_model": rec["paper_model"], "stage": stage,
                            "metric": f"table3 {rec['benchmark']}/{rec['lang']} {rec['metric']}",
                            "ours": rec[f"ours_{when}"], "paper": rec[f"paper_{when}"]})
    with atomic_open(csv_out) as handle:
        writer = csv.DictWriter(handle, fieldnames=["model", "paper_model", "stage", "metric", "ours", "paper"])
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
    specs = {k: f for k, _, f in ALL_COLUMNS}
    names = {k: n for k, n, _ in ALL_COLUMNS}
    lines = [f"Our Table 2 beside the paper's (Table 2). Ours: toxicity scorer `{scorer}`; the paper: "
             "Perspective API, mT5-XL perplexity (reference computation). Each cell is ours / paper's.", "",
             "| Model (ours) | Paper model | DPO | " + " | ".join(f"{names[k]} {DIRECTION[k]}" for k in PAPER_COLUMNS)
             + " |", "|" + "---|" * (3 + len(PAPER_COLUMNS))]
    for label, ref, stage_rows in ours:
        paper_label, paper = PAPER_TABLE2[ref]
        for stage in ("base", "dpo"):
            row = stage_rows.get(stage, {})
            cells = [f"{fmt(row.get(k), specs[k])} / {fmt(paper[stage][k], specs[k])}" for k in PAPER_COLUMNS]
            lines.append(f"| {label} | {paper_label} | {STAGE_NAMES[stage]} | " + " | ".join(cells) + " |")
    lines += [""]
    for label, ref, stage_rows in ours:
        paper_label, paper = PAPER_TABLE2[ref]
        b, d = stage_rows.get("base", {}), stage_rows.get("dpo", {})
        for key, name in (("emt", "EMT"), ("tox_prob", "ToxProb")):
            if b.get(key) and d.get(key) is not None:
                ours_red = (b[key] - d[key]) / b[key]
                paper_red = (paper["base"][key] - paper["dpo"][key]) / paper["base"][key]
                lines.append(f"- {label}: relative {name} reduction {ours_red:.1%} (paper {paper_red:.1%}).")
    lines += [f"- {n}" for n in notes]
    if table3:
        from .table3 import paper_markdown

        lines += ["", *paper_markdown(table3)]
    write_text(md_out, "\n".join(lines) + "\n")
    return records
