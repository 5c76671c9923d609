"""Step of workflow/rules/train.smk: DPO on the English preference pairs, one checkpoint per (model, DPO stage)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..io import atomic_dir, read_jsonl, write_json
from ..report.training import curve_csv, curve_figure
from ..train.dpo import DPOHyperparameters, run_key, train_dpo
from ..data.merge import merge_adapter

log = logging.getLogger("xdetox.train")

PAIR_FIELDS = ("prompt", "chosen", "rejected")


def dpo(model_dir: str, train_path: str, val_path: str, hparams: dict, model_out: str, curve_csv_out: str,
        curve_png_out: str, summary_out: str, work_dir: str, family: str | None, dtype: str,
        threads: int | None, title: str) -> dict:
    """Train one (model, stage), save the merged checkpoint, its training curve (CSV, PNG) and a summary.

    Trainer checkpoints go to `work_dir`/<run key> (outside the rule's output, keyed on hyperparameters, pairs and
    base checkpoint) so an interrupted run resumes and a changed one never does; removed once the run is saved.
    """
    hp = DPOHyperparameters.from_config(hparams)
    train, val = read_jsonl(train_path, PAIR_FIELDS), read_jsonl(val_path, PAIR_FIELDS)
    run_dir = Path(work_dir) / run_key(hp, train, val, model_dir)
    result = train_dpo(model_dir, train, val, hp, run_dir, family, dtype, threads)
    if result.adapter_dir is not None:
        # merged in float32 and saved in the model's dtype: the exact sum, rounded once
        merge_adapter(model_dir, result.adapter_dir, model_out, dtype="float32",
                      save_dtype=dtype if dtype in ("bfloat16", "float16") else None)
    else:
        with atomic_dir(model_out) as tmp:
            result.policy.save_pretrained(str(tmp))
            result.tokenizer.save_pretrained(str(tmp))
    curve_csv(result.history, curve_csv_out)
    curve_figure(result.history, curve_png_out, title)
    write_json(summary_out, result.summary)
    shutil.rmtree(run_dir, ignore_errors=True)  # the run is complete: its resume points are no longer needed
    return result.summary
