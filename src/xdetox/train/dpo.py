"""DPO training with TRL's DPOTrainer: the paper's hyperparameters (protocol §1.3), full / LoRA / QLoRA.

The result is always a plain transformers checkpoint (LoRA adapters are merged), so generation never needs PEFT.
The best checkpoint by validation loss is kept (early stopping with the configured patience), as in the reference.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path
from typing import Any

from .. import XdetoxError
from ..io import atomic_dir, read_jsonl, write_json

log = logging.getLogger("xdetox.train")

#: the reference code's LoRA targets per family (protocol §1.3); Gemma follows Llama's gated-MLP naming
LORA_TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "bloom": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
}


def lora_targets(family: str | None, setting) -> list[str] | str:
    if setting == "auto":
        if family not in LORA_TARGETS:
            return "all-linear"
        return LORA_TARGETS[family]
    return setting


def truncate_prompts(records: list[dict], tokenizer, max_prompt_tokens: int) -> list[dict]:
    """Keep the last `max_prompt_tokens` tokens of each prompt (the reference's max_prompt_length, keep-end)."""
    out = []
    for r in records:
        ids = tokenizer(r["prompt"], add_special_tokens=False)["input_ids"]
        prompt = r["prompt"] if len(ids) <= max_prompt_tokens else tokenizer.decode(ids[-max_prompt_tokens:])
        out.append({"prompt": prompt, "chosen": r["chosen"], "rejected": r["rejected"]})
    return out


def _training_args(hp: dict[str, Any], out_dir: Path, n_train: int, use_cpu: bool):
    from trl import DPOConfig

    precision = hp["precision"]
    steps_per_epoch = max(1, math.ceil(n_train / (hp["batch_size"] * hp["gradient_accumulation_steps"])))
    total = hp["max_steps"] if hp["max_steps"] > 0 else math.ceil(steps_per_epoch * hp["epochs"])
    eval_steps = min(hp["eval_steps"], total)
    return DPOConfig(
        output_dir=str(out_dir),
        beta=hp["beta"],
        loss_type=["sigmoid"],
        learning_rate=hp["learning_rate"],
        optim=hp["optimizer"],
        per_device_train_batch_size=hp["batch_size"],
        per_device_eval_batch_size=hp["batch_size"],
        gradient_accumulation_steps=hp["gradient_accumulation_steps"],
        max_grad_norm=hp["max_grad_norm"],
        num_train_epochs=hp["epochs"],
        max_steps=hp["max_steps"],
        warmup_steps=min(hp["warmup_steps"], max(total - 1, 0)),
        lr_scheduler_type=hp["lr_scheduler"],
        weight_decay=hp["weight_decay"],
        max_length=hp["max_length"],
        truncation_mode="keep_start",
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=min(hp["logging_steps"], eval_steps),
        seed=hp["seed"],
        data_seed=hp["seed"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        gradient_checkpointing=hp["gradient_checkpointing"],
        use_cpu=use_cpu,
        report_to="none",
        disable_tqdm=False,
        dataloader_num_workers=0,
        save_only_model=False,
    )


def load_policy(model_dir: str | Path, hp: dict[str, Any], dtype: str = "float32"):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
    if hp["method"] == "qlora":
        try:
            from transformers import BitsAndBytesConfig
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise XdetoxError("dpo.method qlora needs bitsandbytes and a CUDA GPU: pip install bitsandbytes") from None
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs)
    if hp["method"] == "full" and hp["freeze_embeddings"]:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model


def peft_config(hp: dict[str, Any], family: str | None):
    if hp["method"] == "full":
        return None
    from peft import LoraConfig

    lora = hp["lora"]
    return LoraConfig(
        r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias="none", task_type="CAUSAL_LM",
        target_modules=lora_targets(family, lora["target_modules"]),
    )


def train_dpo(model_dir: str | Path, train_path: str | Path, val_path: str | Path, hp: dict[str, Any],
              out_dir: str | Path, curve_csv: str | Path, curve_png: str | Path, summary_json: str | Path,
              work_dir: str | Path, family: str | None = None, dtype: str = "float32", threads: int | None = None,
              title: str = "DPO") -> dict:
    """Train, keep the best checkpoint by validation loss, merge LoRA, save a plain checkpoint to `out_dir`.

    `work_dir` holds trainer checkpoints outside the rule's output so an interrupted run can resume from them.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, EarlyStoppingCallback, set_seed
    from trl import DPOTrainer

    from .curves import history_to_rows, plot_curve, write_curve_csv

    if threads:
        torch.set_num_threads(threads)
    set_seed(hp["seed"])
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    train = truncate_prompts(read_jsonl(train_path, ("prompt", "chosen", "rejected")), tokenizer, hp["max_prompt_length"])
    val = truncate_prompts(read_jsonl(val_path, ("prompt", "chosen", "rejected")), tokenizer, hp["max_prompt_length"])
    use_cpu = not torch.cuda.is_available()
    # checkpoints of a run with other hyperparameters or data must never be resumed: key the folder on both
    work_dir = Path(work_dir) / run_key(hp, train_path, val_path, model_dir)
    args = _training_args(hp, work_dir, len(train), use_cpu)
    model = load_policy(model_dir, hp, dtype)
    callbacks = [EarlyStoppingCallback(early_stopping_patience=hp["patience"])] if hp["patience"] > 0 else []
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(val),
        processing_class=tokenizer,
        peft_config=peft_config(hp, family),
        callbacks=callbacks,
    )
    resume = _last_checkpoint(work_dir)
    if resume:
        log.info("resuming DPO from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    best = trainer.state.best_model_checkpoint
    history = trainer.state.log_history
    policy = trainer.model
    if hp["method"] != "full":
        policy = policy.merge_and_unload()
    if hasattr(policy, "hf_quantizer"):
        policy.hf_quantizer = None
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        policy.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    rows = history_to_rows(history)
    write_curve_csv(rows, curve_csv)
    plot_curve(rows, curve_png, title=title)
    summary = {
        "n_train_pairs": len(train),
        "n_val_pairs": len(val),
        "steps": trainer.state.global_step,
        "best_checkpoint_step": int(best.rsplit("-", 1)[-1]) if best else None,
        "best_eval_loss": trainer.state.best_metric,
        "train_loss": result.training_loss,
        "hyperparameters": hp,
    }
    write_json(summary_json, summary)
    shutil.rmtree(work_dir, ignore_errors=True)  # the run is complete: its resume points are no longer needed
    return summary


def run_key(hp: dict[str, Any], train_path, val_path, model_dir) -> str:
    """Identifies a training run: hyperparameters, the pair files' contents and the starting checkpoint's path."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(hp, sort_keys=True).encode())
    for path in (train_path, val_path):
        digest.update(Path(path).read_bytes())
    digest.update(str(Path(model_dir).resolve()).encode())
    return digest.hexdigest()[:16]


def _last_checkpoint(work_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not work_dir.is_dir():
        return None
    return get_last_checkpoint(str(work_dir))
