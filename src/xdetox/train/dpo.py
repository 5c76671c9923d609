"""DPO training with TRL's DPOTrainer: the paper's hyperparameters (paper §3, App. A.1 Table 6; reference
xg/training/dpo.py), full / LoRA / QLoRA.

As TRL's own dpo.py parses its arguments once into dataclasses, the config's DPO section becomes one frozen
`DPOHyperparameters` at the edge (the step) and nothing below reads a dict. The result is always a plain
transformers model: a (Q)LoRA adapter is saved, then merged into the base reloaded unquantized (xdetox.data.merge),
so generation never needs PEFT or bitsandbytes and vLLM can load a QLoRA run's result. The best checkpoint by validation
loss is kept (early stopping with the configured patience), as in the reference.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import torch
from datasets import Dataset
from transformers import EarlyStoppingCallback, set_seed
from transformers.trainer_utils import get_last_checkpoint
from trl import DPOConfig, DPOTrainer

from .. import XdetoxError, models
from ..models import bos_prefix
from .curves import history_to_rows

log = logging.getLogger("xdetox.train")

@dataclass(frozen=True)
class LoraSettings:
    r: int
    alpha: float
    dropout: float
    target_modules: str | tuple[str, ...]  # "auto", "all-linear" or module names


@dataclass(frozen=True)
class DPOHyperparameters:
    """One (model, stage)'s DPO run: the config's merged DPO section (xdetox.stages.stage_hparams), typed once.

    Defaults live in the config schema only (the paper's Table 6 and the reference code's settings).
    """

    method: str  # full, lora, qlora
    learning_rate: float
    optimizer: str
    batch_size: int
    gradient_accumulation_steps: int
    max_grad_norm: float
    beta: float
    epochs: float
    max_steps: int
    warmup_steps: int
    lr_scheduler: str
    weight_decay: float
    max_length: int
    max_prompt_length: int
    eval_steps: int
    logging_steps: int
    patience: int
    seed: int
    freeze_embeddings: bool
    gradient_checkpointing: bool
    precision: str
    bos: str  # reference (always BOS, TRL 0.8.6) or tokenizer
    prompt_truncation: str  # if-too-long (TRL 0.8.6) or always
    lora: LoraSettings

    @classmethod
    def from_config(cls, hp: dict[str, Any]) -> "DPOHyperparameters":
        lora = dict(hp["lora"])
        if isinstance(lora["target_modules"], list):
            lora["target_modules"] = tuple(lora["target_modules"])
        values = {f.name: hp[f.name] for f in fields(cls) if f.name != "lora"}
        return cls(**values, lora=LoraSettings(**lora))

    def as_dict(self) -> dict[str, Any]:
        """The hyperparameters as the config spells them (lists, not tuples): for summary.json and the run key."""
        out = asdict(self)
        if isinstance(out["lora"]["target_modules"], tuple):
            out["lora"]["target_modules"] = list(out["lora"]["target_modules"])
        return out


@dataclass
class DPOResult:
    policy: Any  # the trained model (full fine-tuning); None when the run trained an adapter
    adapter_dir: Path | None  # the best (Q)LoRA adapter, to merge into the unquantized base
    tokenizer: Any
    history: list[dict]  # xdetox.train.curves rows
    summary: dict


#: the reference code's LoRA targets per family (xg/training/dpo.py); Gemma follows Llama's gated-MLP naming
LORA_TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "bloom": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
}


def lora_targets(family: str | None, setting: str | Sequence[str]) -> list[str] | str:
    if setting == "auto":
        if family not in LORA_TARGETS:
            return "all-linear"
        return LORA_TARGETS[family]
    return setting if isinstance(setting, str) else list(setting)


def prepare_pairs(records: list[dict], tokenizer, max_length: int, max_prompt_length: int, bos: str = "reference",
                  truncation: str = "if-too-long") -> list[dict]:
    """Prompts as the reference's TRL 0.8.6 tokenised them (DPOTrainer.tokenize_row), through TRL 1.16's text API.

    bos "reference": the prompt starts with BOS (0.8.6 always prepended it; TRL 1.16 adds it only if the tokenizer
    does, and mGPT's and BLOOM's do not). truncation "if-too-long": the prompt (with that BOS) keeps its last
    `max_prompt_length` tokens only when prompt + the longer response + EOS exceed `max_length`, as 0.8.6 (keep_end);
    "always" cuts every longer prompt. A response still too long is then cut by TRL's collator (keep_start).
    One difference remains: a tokenizer that adds BOS itself (Llama) re-adds it to a cut prompt, where 0.8.6 cut it off.
    """
    prefix = bos_prefix(tokenizer) if bos == "reference" else ""
    eos = 1 if tokenizer.eos_token_id is not None else 0
    out = []
    for r in records:
        prompt = prefix + r["prompt"]
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if truncation == "always":
            cut = len(ids) > max_prompt_length
        else:
            longer = max(len(tokenizer(r[k], add_special_tokens=False)["input_ids"]) for k in ("chosen", "rejected"))
            cut = len(ids) + longer + eos > max_length and len(ids) > max_prompt_length
        if cut:
            prompt = tokenizer.decode(ids[-max_prompt_length:])
        out.append({"prompt": prompt, "chosen": r["chosen"], "rejected": r["rejected"]})
    return out


def _training_args(hp: DPOHyperparameters, out_dir: Path, n_train: int, use_cpu: bool) -> DPOConfig:
    steps_per_epoch = max(1, math.ceil(n_train / (hp.batch_size * hp.gradient_accumulation_steps)))
    total = hp.max_steps if hp.max_steps > 0 else math.ceil(steps_per_epoch * hp.epochs)
    eval_steps = min(hp.eval_steps, total)
    return DPOConfig(
        output_dir=str(out_dir),
        beta=hp.beta,
        loss_type=["sigmoid"],
        learning_rate=hp.learning_rate,
        optim=hp.optimizer,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        gradient_accumulation_steps=hp.gradient_accumulation_steps,
        max_grad_norm=hp.max_grad_norm,
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps,
        warmup_steps=min(hp.warmup_steps, max(total - 1, 0)),
        lr_scheduler_type=hp.lr_scheduler,
        weight_decay=hp.weight_decay,
        max_length=hp.max_length,
        truncation_mode="keep_start",
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=min(hp.logging_steps, eval_steps),
        seed=hp.seed,
        data_seed=hp.seed,
        bf16=hp.precision == "bf16",
        fp16=hp.precision == "fp16",
        gradient_checkpointing=hp.gradient_checkpointing,
        use_cpu=use_cpu,
        report_to="none",
        disable_tqdm=False,
        dataloader_num_workers=0,
        save_only_model=False,
    )


def load_policy(model_dir: str | Path, hp: DPOHyperparameters, dtype: str, threads: int | None = None):
    kwargs: dict[str, Any] = {}
    if hp.method == "qlora":
        try:
            from transformers import BitsAndBytesConfig
            import bitsandbytes  # noqa: F401  (optional: only QLoRA needs it)
        except ImportError:
            raise XdetoxError("dpo.method qlora needs bitsandbytes and a CUDA GPU: pip install 'xdetox[qlora]' "
                              "(or run with --sdm conda: the QLoRA stages use envs/qlora.yaml)") from None
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
    model = models.load_model(model_dir, dtype=dtype, threads=threads, training=True, **kwargs)
    if hp.method == "full" and hp.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model


def peft_config(hp: DPOHyperparameters, family: str | None):
    if hp.method == "full":
        return None
    from peft import LoraConfig  # optional at import time: full fine-tuning never needs PEFT

    lora = hp.lora
    return LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, bias="none", task_type="CAUSAL_LM",
        target_modules=lora_targets(family, lora.target_modules),
    )


def train_dpo(model_dir: str | Path, train_pairs: list[dict], val_pairs: list[dict], hp: DPOHyperparameters,
              work_dir: str | Path, family: str | None, dtype: str, threads: int | None = None) -> DPOResult:
    """Train and keep the best checkpoint by validation loss: the policy (full fine-tuning) or the adapter saved
    under `work_dir`/adapter ((Q)LoRA), which the caller merges into the unquantized base (xdetox.data.merge).

    `work_dir` holds trainer checkpoints outside the rule's output so an interrupted run resumes from them; the
    caller removes it once the result is saved.
    """
    set_seed(hp.seed)
    tokenizer = models.load_tokenizer(model_dir, pad_with_eos=True)
    train = prepare_pairs(train_pairs, tokenizer, hp.max_length, hp.max_prompt_length, hp.bos, hp.prompt_truncation)
    val = prepare_pairs(val_pairs, tokenizer, hp.max_length, hp.max_prompt_length, hp.bos, hp.prompt_truncation)
    use_cpu = not torch.cuda.is_available()
    args = _training_args(hp, Path(work_dir), len(train), use_cpu)
    model = load_policy(model_dir, hp, dtype, threads)
    callbacks = [EarlyStoppingCallback(early_stopping_patience=hp.patience)] if hp.patience > 0 else []
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(val),
        processing_class=tokenizer,
        peft_config=peft_config(hp, family),
        callbacks=callbacks,
    )
    resume = _last_checkpoint(Path(work_dir))
    if resume:
        log.info("resuming DPO from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    best = trainer.state.best_model_checkpoint
    policy, adapter_dir = trainer.model, None
    if hp.method != "full":
        # merging into a 4-bit base would re-quantize the merged weights (most of a small DPO delta rounds away) and
        # keep quantization_config, which vLLM cannot load: save the best adapter, merge into the unquantized base
        adapter_dir = Path(work_dir) / "adapter"
        policy.save_pretrained(str(adapter_dir))
        tokenizer.save_pretrained(str(adapter_dir))
        policy = None
    summary = {
        "n_train_pairs": len(train),
        "n_val_pairs": len(val),
        "steps": trainer.state.global_step,
        "best_checkpoint_step": int(best.rsplit("-", 1)[-1]) if best else None,
        "best_eval_loss": trainer.state.best_metric,
        "train_loss": result.training_loss,
        "hyperparameters": hp.as_dict(),
    }
    history = history_to_rows(trainer.state.log_history)
    del trainer, model
    if adapter_dir is not None:
        import gc

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return DPOResult(policy, adapter_dir, tokenizer, history, summary)


def run_key(hp: DPOHyperparameters, train_pairs: list[dict], val_pairs: list[dict], model_dir: str | Path) -> str:
    """Identifies a training run: hyperparameters, the pairs and the starting checkpoint's path (a changed run must
    never resume another's trainer checkpoints)."""
    digest = hashlib.sha256(json.dumps(hp.as_dict(), sort_keys=True).encode())
    digest.update(json.dumps([train_pairs, val_pairs], sort_keys=True, ensure_ascii=False).encode())
    digest.update(str(Path(model_dir).resolve()).encode())
    return digest.hexdigest()[:16]


def _last_checkpoint(work_dir: Path) -> str | None:
    if not work_dir.is_dir():
        return None
    return get_last_checkpoint(str(work_dir))
