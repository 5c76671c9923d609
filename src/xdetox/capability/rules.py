"""What the workflow's `capability` and `table3` rules do, as plain functions (the rule scripts only unpack).

`settings` is the config section ``evaluation.capability``:
``benchmarks`` (name → {num_fewshot, split, fewshot_split, metric}), ``device``, ``dtype``, ``batch_size``,
``max_batch_size``, ``seed``, ``limit``, ``max_length``, ``datasets_cache_dir``.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..io import read_json, write_json
from .harness import DEFAULT_SEED, evaluate_checkpoint

RUN_KEYS = ("device", "dtype", "batch_size", "max_batch_size", "seed", "limit", "max_length", "datasets_cache_dir")


def capability(model_dir: str, outputs: Sequence[tuple[str, str, str]], settings: Mapping, *, model: str,
               stage: str, local_dir: str | None = None, peft: str | None = None, lm=None) -> dict:
    """Evaluate one (model, stage) checkpoint on [(benchmark, lang, output JSON)], with one model load.

    A rule per (model, stage, benchmark, lang) passes one triple; a rule per (model, stage) passes them all.
    """
    run = {k: settings[k] for k in RUN_KEYS if settings.get(k) is not None}
    run.setdefault("seed", DEFAULT_SEED)
    records = evaluate_checkpoint(model_dir, [(b, lang) for b, lang, _ in outputs], settings.get("benchmarks") or {},
                                  local_dir=local_dir, peft=peft, lm=lm, **run)
    if not records:  # a non-zero rank of a distributed run: rank 0 writes
        return records
    for bench, lang, path in outputs:
        record = {"model": model, "stage": stage, **records[(bench, lang)]}
        write_json(path, record)
        records[(bench, lang)] = record
    return records


def table3(capability_paths: Iterable[str], csv_out: str, md_out: str, tex_out: str, figure_out: str,
           paper_csv: str, paper_md: str, labels: Mapping[str, str], paper_refs: Mapping[str, str | None],
           toxicity_paths: Iterable[str] = (), toxicity_key: str = "emt", scorer: str = "",
           notes: Sequence[str] = ()) -> list[dict]:
    """Table 3 (CSV, Markdown, LaTeX), its paper comparison, and the capability-vs-toxicity change figure.

    `toxicity_paths`: the per-language metrics JSONs (results/metrics/{scorer}/{model}/{stage}/{lang}.json) of the
    models and languages in the table, for both stages; languages without them (vi) are marked n/a in the figure.
    """
    from ..report import table3 as report

    records = [read_json(p) for p in capability_paths]
    toxicity = {}
    for path in toxicity_paths:
        m = read_json(path)
        toxicity[(m["model"], m["stage"], m["lang"])] = m
    rows = report.table3(records, csv_out, md_out, tex_out, labels=labels, notes=notes)
    report.paper_comparison(rows, paper_refs, paper_csv, paper_md)
    report.figure(rows, figure_out, toxicity, toxicity_key=toxicity_key, scorer=scorer)
    return rows
