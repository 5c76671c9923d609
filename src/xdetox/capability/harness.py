"""Evaluate one checkpoint on (benchmark, language) tasks through lm-evaluation-harness's Python API.

Order of work, so that every data problem is reported before a (possibly 7B) model is loaded:
resolve the tasks → check the local files → build the harness tasks (reads every dataset) → load the model once →
``lm_eval.simple_evaluate`` on all tasks with that one model.

The task manager indexes only the harness's Okapi task folders and this package's ``tasks/`` folder: indexing all of
the harness's tasks takes ~45 s (14,683 YAML files) for nothing. In lm_eval 0.4.13 a task given as a dict is built
from that dict alone (the registered YAML is not merged in), so each task's config is the YAML loaded with its
includes and ``!function`` references resolved, with the set-up's splits, shots and data source laid over it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .. import XdetoxError
from .benchmarks import TaskSpec, resolve
from .data import check_local_files

log = logging.getLogger(__name__)

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
#: the harness's task folders the benchmarks use (relative to lm_eval/tasks)
HARNESS_TASK_DIRS = ("okapi/arc_multilingual", "okapi/hellaswag_multilingual", "okapi/mmlu_multilingual")
LM_EVAL_VERSION = "0.4.13"
DEFAULT_SEED = 1234


def _lm_eval():
    try:
        import lm_eval
    except ImportError as err:
        raise XdetoxError("capability evaluation needs lm-evaluation-harness: pip install 'xdetox[capability]' "
                          f"(lm_eval=={LM_EVAL_VERSION})") from err
    version = getattr(lm_eval, "__version__", "?")
    if version != LM_EVAL_VERSION:
        log.warning("lm_eval %s is installed; the project pins and was tested with %s", version, LM_EVAL_VERSION)
    return lm_eval


def task_manager():
    """A TaskManager over the harness's Okapi tasks and the project's tasks (include_path)."""
    _lm_eval()
    import lm_eval.tasks as harness_tasks
    from lm_eval.tasks import TaskManager

    root = Path(harness_tasks.__file__).resolve().parent
    paths = [root / d for d in HARNESS_TASK_DIRS]
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        raise XdetoxError(f"lm_eval's Okapi task folders are missing ({', '.join(missing)}); install "
                          f"lm_eval=={LM_EVAL_VERSION}")
    return TaskManager(include_path=[*paths, TASKS_DIR], include_defaults=False)


def task_config(manager, spec: TaskSpec, files: Mapping[str, Path] | None = None,
                datasets_cache_dir: str | None = None) -> dict[str, Any]:
    """The full harness config of one task: its YAML (includes and functions resolved) + the set-up's overrides."""
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = manager.task_index.get(spec.task_name)
    if entry is None or entry.yaml_path is None:
        raise XdetoxError(f"lm_eval has no task {spec.task_name!r} for {spec.benchmark.name}/{spec.lang} "
                          f"(installed lm_eval should be {LM_EVAL_VERSION})")
    cfg = load_yaml(entry.yaml_path, resolve_func=True)
    # the evaluated split is always read as the test split, and only the splits the set-up names are declared, so
    # a local folder needs only those files and the harness never falls back to another split for shots
    cfg.update(test_split=spec.eval_split, validation_split=None, training_split=None,
               fewshot_split=spec.fewshot_split, num_fewshot=spec.num_fewshot)
    if files is not None:
        from .data import load_local_dataset

        cfg["custom_dataset"] = load_local_dataset
        cfg["dataset_kwargs"] = {"xdetox_files": {s: str(p) for s, p in files.items()},
                                 "xdetox_benchmark": spec.benchmark.name, "xdetox_lang": spec.lang}
    elif datasets_cache_dir:
        cfg["dataset_kwargs"] = {**(cfg.get("dataset_kwargs") or {}), "cache_dir": str(datasets_cache_dir)}
    return cfg


def build_tasks(specs: Sequence[TaskSpec], local_dir: str | Path | None = None,
                datasets_cache_dir: str | None = None, manager=None) -> tuple[Any, dict[tuple[str, str], Any]]:
    """(task manager, {(benchmark, lang): harness Task}); every dataset is read here, before any model is loaded."""
    files = check_local_files(local_dir, specs) if local_dir else {}
    manager = manager or task_manager()
    tasks = {}
    for spec in specs:
        cfg = task_config(manager, spec, files.get(spec.key), datasets_cache_dir)
        try:
            loaded = manager.load([cfg])
        except XdetoxError:
            raise
        except Exception as err:  # datasets' errors vary (offline, missing config, bad file); name the source
            if local_dir:
                where = ", ".join(str(p) for p in files[spec.key].values())
            else:
                where = (f"hub dataset {spec.benchmark.dataset} (config {spec.okapi_lang!r}); set "
                         "data.capability.local_dir to read a local copy instead")
            raise XdetoxError(f"capability task {spec.task_name} ({spec.benchmark.name}/{spec.lang}): could not load "
                              f"its data from {where}: {type(err).__name__}: {err}") from err
        (task,) = loaded["tasks"].values()
        tasks[spec.key] = task
    return manager, tasks


def load_model(model_dir: str | Path, device: str = "auto", dtype: str = "auto", batch_size: int | str = 1,
               max_batch_size: int | None = None, peft: str | Path | None = None, max_length: int | None = None,
               trust_remote_code: bool = False):
    """One HFLM for all tasks of a checkpoint: a plain HF folder, or a base model plus a PEFT adapter (`peft`)."""
    _lm_eval()
    from lm_eval.models.huggingface import HFLM

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise XdetoxError(f"{model_dir}: not a Hugging Face model folder (no config.json)")
    if peft is not None and not (Path(peft) / "adapter_config.json").is_file():
        raise XdetoxError(f"{peft}: not a PEFT adapter folder (no adapter_config.json)")
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    # absolute paths: HFLM asks the hub for a model's sha, and a relative "a/b" path reads as a repo id there
    kwargs: dict[str, Any] = dict(pretrained=str(model_dir.resolve()), device=device, dtype=dtype,
                                  batch_size=batch_size, trust_remote_code=trust_remote_code)
    if max_batch_size is not None:
        kwargs["max_batch_size"] = max_batch_size
    if peft is not None:
        kwargs["peft"] = str(Path(peft).resolve())
    if max_length is not None:
        kwargs["max_length"] = max_length
    return HFLM(**kwargs)


def _metric(values: Mapping[str, Any], name: str) -> float | None:
    value = values.get(f"{name},none")
    if value is None or value == "N/A":
        return None
    return float(value)


def task_record(results: Mapping[str, Any], spec: TaskSpec, task_name: str) -> dict[str, Any]:
    values = results["results"][task_name]
    n = results.get("n-samples", {}).get(task_name, {})
    record = {
        "benchmark": spec.benchmark.name,
        "lang": spec.lang,
        "okapi_lang": spec.okapi_lang,
        "task": task_name,
        "task_source": spec.task_source,
        "task_version": results.get("versions", {}).get(task_name),
        "dataset": spec.benchmark.dataset,
        "split": spec.eval_split,
        "fewshot_split": spec.fewshot_split,
        "num_fewshot": int(results.get("n-shot", {}).get(task_name, spec.num_fewshot)),
        "n": int(n["effective"]) if "effective" in n else None,
        "n_total": int(n["original"]) if "original" in n else None,
        "table_metric": spec.table_metric,
    }
    for metric in spec.benchmark.metrics:
        record[metric] = _metric(values, metric)
        record[f"{metric}_stderr"] = _metric(values, f"{metric}_stderr")
    return record


def evaluate_checkpoint(model_dir: str | Path, tasks: Iterable[tuple[str, str]],
                        settings: Mapping[str, Mapping] | None = None, *, local_dir: str | Path | None = None,
                        datasets_cache_dir: str | None = None, device: str = "auto", dtype: str = "auto",
                        batch_size: int | str = 1, max_batch_size: int | None = None, seed: int = DEFAULT_SEED,
                        limit: int | float | None = None, peft: str | Path | None = None,
                        max_length: int | None = None, trust_remote_code: bool = False,
                        lm=None) -> dict[tuple[str, str], dict[str, Any]]:
    """{(benchmark, lang): record} for one checkpoint, all tasks in one ``simple_evaluate`` call on one model.

    `settings`: benchmark → overrides of its set-up (num_fewshot, split, fewshot_split, metric).
    `local_dir`: read the data from the local layout (xdetox.capability.data) instead of the hub.
    `limit`: evaluate only the first `limit` documents of each task (tests and smoke runs).
    `lm`: an already-built harness LM to reuse (otherwise `model_dir` is loaded once here).
    Each record holds acc, acc_norm (where the task has it) and their standard errors as the harness computes
    them, n, the shots and splits, and what produced it.
    """
    lm_eval = _lm_eval()
    settings = settings or {}
    specs = [resolve(b, lang, settings.get(b)) for b, lang in tasks]
    if not specs:
        raise XdetoxError("capability: no (benchmark, language) task to evaluate")
    keys = [s.key for s in specs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise XdetoxError(f"capability: task(s) listed twice: {duplicates}")
    manager, task_objs = build_tasks(specs, local_dir, datasets_cache_dir)
    if lm is None:
        lm = load_model(model_dir, device=device, dtype=dtype, batch_size=batch_size, max_batch_size=max_batch_size,
                        peft=peft, max_length=max_length, trust_remote_code=trust_remote_code)
    from lm_eval import simple_evaluate

    results = simple_evaluate(
        model=lm, tasks=list(task_objs.values()), task_manager=manager, limit=limit, log_samples=False,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        batch_size=batch_size, device=None if device == "auto" else device,
    )
    if results is None:  # a non-zero rank of a distributed run: rank 0 writes the results
        return {}
    records = {}
    for spec in specs:
        record = task_record(results, spec, task_objs[spec.key].task_name)
        record.update({
            "model_dir": str(model_dir), "peft": str(peft) if peft else None, "device": device, "dtype": dtype,
            "batch_size": batch_size, "seed": seed, "limit": limit,
            "data": "local" if local_dir else "hub", "lm_eval_version": getattr(lm_eval, "__version__", None),
        })
        records[spec.key] = record
    return records

