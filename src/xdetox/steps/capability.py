"""Steps of workflow/rules/capability.smk: Table 3, multilingual capability before and after DPO, through
lm-evaluation-harness (xdetox.capability), and its tables, figure and paper comparison (xdetox.report.table3).

`settings` is the job's slice of ``evaluation.capability``: ``benchmarks`` (name → {num_fewshot, split,
fewshot_split, metric}), ``device``, ``dtype``, ``batch_size``, ``seed``, ``limit``, ``max_length`` (and, for library
callers, ``max_batch_size``, ``datasets_cache_dir``).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..capability.harness import DEFAULT_SEED, evaluate_checkpoint
from ..io import read_json, write_json

RUN_KEYS = ("device", "dtype", "batch_size", "max_batch_size", "seed", "limit", "max_length", "datasets_cache_dir")


def capability(model_dir: str, outputs: Sequence[tuple[str, str, str]], settings: Mapping, *, model: str,
               stage: str, local_dir: str | None = None, peft: str | None = None, lm=None) -> dict:
    """Evaluate one (model, stage) checkpoint on [(benchmark, lang, output JSON)], with one model load.

    The rule runs one job per (model, stage, benchmark, lang) and passes one triple (a 7B model's task runs for hours,
    so tasks are jobs a cluster can spread over GPUs); a caller with several triples gets them from one model load.
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


def table3(capability_paths: Iterable[str], outputs: Mapping[str, str], labels: Mapping[str, str],
           paper_refs: Mapping[str, str | None], toxicity_paths: Iterable[str] = (), toxicity_key: str = "emt",
           scorer: str = "", notes: Sequence[str] = ()) -> list[dict]:
    """Table 3 (`outputs`: csv, md, tex), its paper comparison (paper_csv, paper_md) and the capability-vs-toxicity
    change figure (figure).

    `toxicity_paths`: the per-language metrics JSONs (results/metrics/{scorer}/{model}/{stage}/{lang}.json) of the
    models and languages in the table, for both stages; languages without them (vi) are marked n/a in the figure.
    """
    from ..report import table3 as report

    records = [read_json(p) for p in capability_paths]
    toxicity = {}
    for path in toxicity_paths:
        m = read_json(path)
        toxicity[(m["model"], m["stage"], m["lang"])] = m
    rows = report.table3(records, outputs["csv"], outputs["md"], outputs["tex"], labels=labels, notes=notes)
    report.paper_comparison(rows, paper_refs, outputs["paper_csv"], outputs["paper_md"])
    report.figure(rows, outputs["figure"], toxicity, toxicity_key=toxicity_key, scorer=scorer)
    return rows
