"""Benchmark data from a local folder (offline clusters) instead of the Hugging Face hub.

Layout (``data.capability.local_dir``)::

    {local_dir}/{m_arc|m_hellaswag|m_mmlu}/{okapi lang}/{split}.jsonl

- the folder names are the hub datasets' names (``alexandrainst/m_arc`` → ``m_arc``); both MMLU variants read
  ``m_mmlu``;
- the language is the dataset's config name: Okapi's codes, so Chinese is ``zh`` (the workflow's ``zh-hans``);
- the split names are the hub's: ``m_arc``: train, validation, test; ``m_hellaswag``: val; ``m_mmlu``: train (MMLU's
  dev set, the few-shot source), val, test. Only the splits a task reads must exist: the evaluated split and, with
  shots, the few-shot split (ARC test + train, HellaSwag val, MMLU test + train under the Okapi set-up);
- one JSON object per line with the hub's column names (what the harness's ``process_docs`` reads):
  ``m_arc``: id, instruction, option_a … option_d (option_e optional), answer (a letter);
  ``m_hellaswag``: activity_label, ctx_a, ctx_b, endings (a list), label (the index, as a string or a number);
  ``m_mmlu``: instruction, option_a … option_d, answer (a letter).

``export_from_hub`` writes this layout from the hub on a machine that has network access.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from .. import XdetoxError
from ..io import iter_jsonl, write_jsonl
from .benchmarks import Benchmark, TaskSpec, get_benchmark, okapi_code


def local_file(local_dir: str | Path, benchmark: Benchmark, lang: str, split: str) -> Path:
    return Path(local_dir) / benchmark.dataset_dir / okapi_code(lang) / f"{split}.jsonl"


def local_files(local_dir: str | Path, spec: TaskSpec) -> dict[str, Path]:
    """split → file of the splits one task reads."""
    return {split: local_file(local_dir, spec.benchmark, spec.lang, split) for split in spec.needed_splits}


def check_local_files(local_dir: str | Path, specs: Iterable[TaskSpec]) -> dict[tuple[str, str], dict[str, Path]]:
    """The files of every task; one error listing every missing file (before any data or model is loaded)."""
    if not Path(local_dir).is_dir():
        raise XdetoxError(f"config key data.capability.local_dir: folder {local_dir} does not exist")
    files, missing = {}, []
    for spec in specs:
        files[spec.key] = local_files(local_dir, spec)
        missing += [f"{path} ({spec.benchmark.name}/{spec.lang}, split {split!r})"
                    for split, path in files[spec.key].items() if not path.is_file()]
    if missing:
        raise XdetoxError(
            "capability data: missing file(s) in data.capability.local_dir:\n  " + "\n  ".join(missing)
            + "\n(layout: {local_dir}/{m_arc|m_hellaswag|m_mmlu}/{lang}/{split}.jsonl; see xdetox.capability.data)"
        )
    return files


def _as_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def read_rows(path: str | Path, benchmark: Benchmark, lang: str) -> list[dict]:
    """Rows of one local file, checked for the fields the task reads and given the hub's column types."""
    rows = []
    okapi = okapi_code(lang)
    for lineno, row in enumerate(iter_jsonl(path, required=benchmark.fields), start=1):
        row = {**{k: None for k in benchmark.optional_fields}, **row}
        if benchmark.dataset_dir == "m_hellaswag":
            endings = row["endings"]
            if not isinstance(endings, list):
                raise XdetoxError(f"{path}: row {lineno}: 'endings' must be a list, got {type(endings).__name__}")
            if okapi == "zh":
                # {zh, en} objects travel as JSON text (one Arrow column type); hellaswag_zh's process_docs reads them
                endings = [json.dumps(e, ensure_ascii=False) if isinstance(e, dict) else e for e in endings]
            bad = [e for e in endings if not isinstance(e, str)]
            if bad:
                raise XdetoxError(f"{path}: row {lineno}: every ending must be text, got {bad[0]!r}")
            row["endings"] = endings
            row["label"] = _as_text(row["label"])
        else:
            for key in ("id", "answer", *[k for k in row if k.startswith("option_")]):
                if key in row:
                    row[key] = _as_text(row[key])
        rows.append(row)
    if not rows:
        raise XdetoxError(f"{path}: no rows")
    return rows


def load_local_dataset(xdetox_files: Mapping[str, str], xdetox_benchmark: str, xdetox_lang: str, **_harness_kwargs):
    """The harness's ``custom_dataset`` hook: split → local JSONL as a DatasetDict (in memory, no cache files).

    The harness calls it with the task's metadata and dataset_kwargs as keyword arguments; only ours are read.
    """
    import datasets

    bench = get_benchmark(xdetox_benchmark)
    return datasets.DatasetDict({split: datasets.Dataset.from_list(read_rows(path, bench, xdetox_lang))
                                 for split, path in xdetox_files.items()})


def export_from_hub(out_dir: str | Path, benchmarks: Iterable[str], langs: Iterable[str],
                    splits: Iterable[str] | None = None, cache_dir: str | None = None) -> list[Path]:
    """Download the benchmarks' hub datasets into the local layout (run where the hub is reachable)."""
    import datasets

    written = []
    seen = set()
    for name in benchmarks:
        bench = get_benchmark(name)
        for lang in langs:
            okapi = okapi_code(lang)
            if okapi not in bench.languages or (bench.dataset, okapi) in seen:
                continue
            seen.add((bench.dataset, okapi))
            try:
                data = datasets.load_dataset(bench.dataset, okapi, cache_dir=cache_dir)
            except Exception as err:  # the hub's errors vary by cause (offline, gated, renamed)
                raise XdetoxError(f"capability data: could not load {bench.dataset} (config {okapi!r}) from the "
                                  f"hub: {err}") from err
            for split in (splits or bench.splits):
                if split not in data:
                    continue
                path = local_file(out_dir, bench, lang, split)
                write_jsonl(path, (dict(row) for row in data[split]))
                written.append(path)
    return written


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="write Okapi's ARC/HellaSwag/MMLU from the hub into the local layout "
                                                 "that data.capability.local_dir reads")
    parser.add_argument("out_dir")
    parser.add_argument("--benchmarks", default="arc,hellaswag,mmlu_fulltext")
    parser.add_argument("--langs", default="vi,ru,hi,zh-hans")
    args = parser.parse_args(argv)
    for path in export_from_hub(args.out_dir, args.benchmarks.split(","), args.langs.split(",")):
        print(path)


if __name__ == "__main__":
    main()
