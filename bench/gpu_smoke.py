"""GPU smoke run: a random mGPT-shaped model (GPT-2 architecture) built here, DPO a few steps (full, LoRA, QLoRA),
and the HF backend's sampling beside batched `model.generate`, on one device; one JSON of timings and checks.

Needs nothing but PyTorch and transformers, and no network: the tokenizer (a word-level vocabulary of the model's
size) and the model are made here, the texts are random words. The DPO parts need TRL and `datasets` (LoRA also
PEFT, QLoRA also bitsandbytes and CUDA); a part whose libraries are missing is recorded as skipped, with the reason.
The HF backend is imported from this checkout's src/ (xdetox.generation.hf).

    python bench/gpu_smoke.py --out bench/out/gpu_smoke.json                 # one GPU (default --device cuda)
    python bench/gpu_smoke.py --device cpu --size tiny --out /tmp/smoke.json  # a CPU check, well under a minute

What it checks, besides timing:
- each DPO run takes its steps with finite losses; the LoRA adapter merged into the fp32 base (xdetox.data.merge)
  is a dense checkpoint whose logits equal the adapter model's;
- QLoRA (4-bit NF4 base, TRL casts the adapter to bf16) trains under bf16 mixed precision; under fp16 mixed precision
  it is expected to fail at the first optimizer step (fp16's grad scaler cannot unscale bf16 gradients): both
  outcomes are recorded;
- the HF backend returns n_samples continuations per prompt and the same texts when run again;
- tokens/s of the HF backend beside one batched `model.generate` per batch of prompts (same sampling: T, top-p, no
  top-k), peak device memory of each part, and whether the device has bf16.
The exit status is 0 when every part that could run passed its checks.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

#: model and workload sizes; `small` keeps a whole GPU run to a few minutes, `mgpt` is mGPT-1.3B's real shape
SIZES = {
    "tiny": dict(vocab=512, d_model=64, layers=2, heads=2, dpo_steps=2, dpo_batch=2, max_length=64, pairs=8,
                 prompts=4, samples=4, new_tokens=6, batch_prompts=4),
    "small": dict(vocab=100_000, d_model=512, layers=4, heads=8, dpo_steps=10, dpo_batch=4, max_length=128,
                  pairs=64, prompts=64, samples=25, new_tokens=20, batch_prompts=64),
    "mgpt": dict(vocab=100_000, d_model=2048, layers=24, heads=16, dpo_steps=10, dpo_batch=4, max_length=256,
                 pairs=64, prompts=128, samples=25, new_tokens=20, batch_prompts=64),
}
SPECIALS = ["<|endoftext|>", "<pad>", "<unk>"]


# ---- building ------------------------------------------------------------------------------------------------------
def build_tokenizer(vocab_size: int):
    """A word-level tokenizer with exactly `vocab_size` entries: w3, w4, ... plus EOS (= BOS), pad and unk."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i for i in range(len(SPECIALS), vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<unk>", pad_token="<pad>")


def build_model(out_dir: Path, size: dict, seed: int = 0) -> Path:
    """A random GPT-2-architecture model shaped like mGPT (4× MLP, learned positions, tied embeddings), saved."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(size["vocab"])
    config = GPT2Config(vocab_size=size["vocab"], n_embd=size["d_model"], n_layer=size["layers"],
                        n_head=size["heads"], n_inner=4 * size["d_model"], n_positions=2048,
                        bos_token_id=0, eos_token_id=0, pad_token_id=1)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def words(rng: random.Random, vocab: int, n: int) -> str:
    return " ".join(f"w{rng.randrange(len(SPECIALS), vocab)}" for _ in range(n))


def pairs(size: dict, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    v = size["vocab"]
    # completions start with a space: TRL tokenizes prompt + completion as one string
    return [{"prompt": words(rng, v, rng.randint(6, 20)), "chosen": " " + words(rng, v, rng.randint(4, 16)),
             "rejected": " " + words(rng, v, rng.randint(4, 16))} for _ in range(size["pairs"])]


def prompts(size: dict, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": str(i), "lang": "en", "text": words(rng, size["vocab"], rng.randint(4, 24))}
            for i in range(size["prompts"])]


# ---- measuring -----------------------------------------------------------------------------------------------------
class Meter:
    """Wall time and peak memory of one part (device memory on CUDA, the process's peak RSS on CPU)."""

    def __init__(self, device: str):
        self.device = device

    def __enter__(self):
        gc.collect()
        if self.device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.t0
        if self.device == "cuda":
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            import resource

            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        return False


def importable(*modules: str) -> str | None:
    """None if every module imports, else the reason a part is skipped."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # ImportError, or a library that fails on import (e.g. no CUDA for bitsandbytes)
            return f"{name} not importable ({type(err).__name__}: {err})"
    return None


def mixed_precision(device: str) -> str:
    if device != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


# ---- DPO -----------------------------------------------------------------------------------------------------------
def dpo_run(model_dir: Path, data: list[dict], size: dict, device: str, method: str, precision: str,
            work: Path) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    load: dict = {"dtype": torch.float32}
    peft_config = None
    if method in ("lora", "qlora"):
        from peft import LoraConfig

        peft_config = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.05, bias="none", task_type="CAUSAL_LM",
                                 target_modules=["c_attn", "c_proj", "c_fc"])
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        load = {"dtype": torch.bfloat16, "device_map": {"": 0},
                "quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                          bnb_4bit_compute_dtype=torch.bfloat16,
                                                          bnb_4bit_use_double_quant=True)}
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), **load)
    args = DPOConfig(
        output_dir=str(work), max_steps=size["dpo_steps"], per_device_train_batch_size=size["dpo_batch"],
        learning_rate=1e-5 if method == "full" else 5e-5, optim="rmsprop", beta=0.1, max_grad_norm=10.0,
        lr_scheduler_type="constant", max_length=size["max_length"], logging_steps=1, save_strategy="no",
        eval_strategy="no", report_to="none", disable_tqdm=True, dataloader_num_workers=0, seed=0,
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device == "cpu", gradient_checkpointing=False,
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(data), processing_class=tokenizer,
                         peft_config=peft_config)
    trainable = {str(p.dtype).removeprefix("torch.") for p in trainer.model.parameters() if p.requires_grad}
    with Meter(device) as meter:
        result = trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    steps = trainer.state.global_step
    out = {
        "ran": True, "method": method, "precision": precision, "trainable_dtypes": sorted(trainable),
        "steps": steps, "seconds": round(meter.seconds, 3),
        "steps_per_s": round(steps / meter.seconds, 3) if meter.seconds else None,
        "pairs_per_s": round(steps * size["dpo_batch"] / meter.seconds, 2) if meter.seconds else None,
        "peak_mem_mb": round(meter.peak_mb, 1), "losses": [round(x, 5) for x in losses],
        "train_loss": result.training_loss, "finite": bool(losses) and all(math.isfinite(x) for x in losses),
    }
    out["ok"] = out["finite"] and steps == size["dpo_steps"]
    if method in ("lora", "qlora"):
        out.update(check_merge(trainer.model, model_dir, work / "adapter", work / "merged", tokenizer, device))
        out["ok"] = out["ok"] and out["merge_ok"]
    del trainer, model
    return out


def check_merge(peft_model, base_dir: Path, adapter_dir: Path, merged_dir: Path, tokenizer, device: str) -> dict:
    """The adapter, merged into the fp32 base by xdetox.data.merge, must give a dense checkpoint with the same
    logits as the base + adapter (for QLoRA: the full-precision base, the reference's merge)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from xdetox.data.merge import check_dense, merge_adapter

    peft_model.save_pretrained(str(adapter_dir))
    tokenizer.save_pretrained(str(adapter_dir))
    merge_adapter(base_dir, adapter_dir, merged_dir, dtype="float32")
    dtypes = sorted(set(check_dense(merged_dir).values()))
    ids = torch.randint(len(SPECIALS), len(tokenizer), (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
        reference = PeftModel.from_pretrained(base, str(adapter_dir)).eval()(input_ids=ids).logits
        merged = AutoModelForCausalLM.from_pretrained(str(merged_dir)).eval()(input_ids=ids).logits
    diff = float((merged - reference).abs().max())
    return {"merged_dtypes": dtypes, "merge_max_abs_logit_diff": diff, "merge_ok": diff < 1e-3}


def part_dpo(name: str, model_dir: Path, size: dict, device: str, work: Path) -> dict:
    method = {"dpo_full": "full", "dpo_lora": "lora"}[name]
    skip = importable("trl", "datasets", *(["peft"] if method == "lora" else []))
    if skip:
        return {"ran": False, "skipped": skip}
    return dpo_run(model_dir, pairs(size), size, device, method, mixed_precision(device), work / name)


def part_qlora(model_dir: Path, size: dict, device: str, work: Path) -> dict:
    if device != "cuda":
        return {"ran": False, "skipped": "QLoRA needs CUDA"}
    skip = importable("trl", "datasets", "peft", "bitsandbytes")
    if skip:
        return {"ran": False, "skipped": skip}
    out: dict = {"ran": True}
    if torch.cuda.is_bf16_supported():
        out["bf16"] = dpo_run(model_dir, pairs(size), size, device, "qlora", "bf16", work / "qlora-bf16")
    else:
        out["bf16"] = {"ran": False, "skipped": "this GPU has no bf16"}
    try:  # the preset's old setting: expected to fail at the first optimizer step
        fp16 = dpo_run(model_dir, pairs(size), size, device, "qlora", "fp16", work / "qlora-fp16")
        out["fp16"] = {**fp16, "failed": False}
    except Exception as err:
        out["fp16"] = {"ran": True, "failed": True, "error": f"{type(err).__name__}: {err}"[:500]}
    out["fp16_fails_as_expected"] = out["fp16"].get("failed", False)
    out["ok"] = out["bf16"].get("ok", True)
    return out


# ---- sampling ------------------------------------------------------------------------------------------------------
def part_sampling(model_dir: Path, size: dict, device: str, threads: int) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from xdetox.generation.base import Sampling
    from xdetox.generation.hf import HFBackend

    dtype = torch.float32 if device == "cpu" else (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype).to(device).eval()
    sampling = Sampling(n_samples=size["samples"], temperature=0.9, top_p=0.8, max_new_tokens=size["new_tokens"],
                        seed=0, batch_size=size["batch_prompts"], dtype=str(dtype).removeprefix("torch."))
    batch = prompts(size)
    backend = HFBackend(model=model, tokenizer=tokenizer, threads=threads, progress=False)
    backend.generate(None, batch[:2], sampling)  # warm-up: kernels, allocator
    with Meter(device) as meter:
        first = backend.generate(None, batch, sampling)
    second = backend.generate(None, batch, sampling)
    per_prompt = {p["id"]: 0 for p in batch}
    for record in first:
        per_prompt[record["prompt_id"]] += 1
    hf_tokens = sum(r["n_tokens"] for r in first)
    hf = {"seconds": round(meter.seconds, 3), "new_tokens": hf_tokens, "tokens_per_s": round(hf_tokens / meter.seconds, 1),
          "peak_mem_mb": round(meter.peak_mb, 1)}

    # batched model.generate: one call per batch of prompts, num_return_sequences samples each, left padding
    tokenizer.padding_side = "left"
    eos = tokenizer.eos_token_id
    gen_tokens = 0
    generate_kwargs = dict(do_sample=True, temperature=0.9, top_p=0.8, top_k=0, max_new_tokens=size["new_tokens"],
                           num_return_sequences=size["samples"], pad_token_id=tokenizer.pad_token_id,
                           eos_token_id=eos)
    torch.manual_seed(0)
    with torch.inference_mode():
        model.generate(**tokenizer([p["text"] for p in batch[:2]], return_tensors="pt", padding=True).to(device),
                       **generate_kwargs)  # warm-up
        with Meter(device) as gen_meter:
            for start in range(0, len(batch), size["batch_prompts"]):
                enc = tokenizer([p["text"] for p in batch[start:start + size["batch_prompts"]]], return_tensors="pt",
                                padding=True).to(device)
                out = model.generate(**enc, **generate_kwargs)[:, enc["input_ids"].shape[1]:]
                # new tokens up to (not including) each continuation's EOS, as the HF backend counts them
                is_eos = out == eos
                first_eos = torch.where(is_eos.any(-1), is_eos.float().argmax(-1), torch.full_like(out[:, 0], out.shape[1]))
                gen_tokens += int(first_eos.sum())
    generate = {"seconds": round(gen_meter.seconds, 3), "new_tokens": gen_tokens,
                "tokens_per_s": round(gen_tokens / gen_meter.seconds, 1), "peak_mem_mb": round(gen_meter.peak_mb, 1)}
    checks = {
        "n_samples_per_prompt": all(n == size["samples"] for n in per_prompt.values()),
        "rerun_identical": [r["text"] for r in first] == [r["text"] for r in second],
        "tokens_within_budget": all(0 <= r["n_tokens"] <= size["new_tokens"] for r in first),
    }
    del model
    return {"ran": True, "dtype": sampling.dtype, "prompts": len(batch), "samples": size["samples"],
            "max_new_tokens": size["new_tokens"], "hf_backend": hf, "batched_generate": generate,
            "hf_over_generate": round(hf["tokens_per_s"] / generate["tokens_per_s"], 3) if generate["tokens_per_s"] else None,
            "checks": checks, "ok": all(checks.values())}


# ---- main ----------------------------------------------------------------------------------------------------------
def environment(device: str) -> dict:
    import transformers

    info = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "cuda_available": torch.cuda.is_available(), "device": device}
    for name in ("trl", "peft", "datasets", "bitsandbytes"):
        try:
            info[name] = __import__(name).__version__
        except Exception:
            info[name] = None
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gb=round(props.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported(),
                    cuda=torch.version.cuda, visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"))
    else:
        from xdetox.models import cpu_has_fast_bf16

        info.update(bf16=cpu_has_fast_bf16(), cpu=platform.processor() or platform.machine(),
                    threads=torch.get_num_threads())
    return info


def run(device: str, size_name: str, threads: int, parts: list[str]) -> dict:
    size = SIZES[size_name]
    if device == "cpu":
        torch.set_num_threads(threads)
    report: dict = {"script": "bench/gpu_smoke.py", "size": size_name, "sizes": size,
                    "environment": environment(device), "parts": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xdetox-gpu-smoke-") as tmp:
        work = Path(tmp)
        with Meter(device) as meter:
            model_dir = build_model(work / "model", size)
        from transformers import AutoConfig

        n_params = None
        try:
            from transformers import AutoModelForCausalLM

            with torch.device("meta"):
                n_params = sum(p.numel() for p in AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir)).parameters())
        except Exception:
            pass
        report["model"] = {"architecture": "gpt2 (mGPT-shaped)", "parameters": n_params, "build_seconds": round(meter.seconds, 2)}
        for name in parts:
            try:
                if name in ("dpo_full", "dpo_lora"):
                    report["parts"][name] = part_dpo(name, model_dir, size, device, work)
                elif name == "qlora":
                    report["parts"][name] = part_qlora(model_dir, size, device, work)
                elif name == "sampling":
                    report["parts"][name] = part_sampling(model_dir, size, device, threads)
            except Exception as err:
                report["parts"][name] = {"ran": True, "ok": False, "error": f"{type(err).__name__}: {err}"[:1000],
                                         "traceback": traceback.format_exc()[-3000:]}
            gc.collect()
            if device == "cuda":
                torch.cuda.empty_cache()
    report["seconds_total"] = round(time.perf_counter() - started, 1)
    report["ok"] = all(part.get("ok", True) for part in report["parts"].values() if part.get("ran"))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--size", choices=list(SIZES), default=None, help="default: small on cuda, tiny on cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on CPU")
    parser.add_argument("--parts", default="dpo_full,dpo_lora,qlora,sampling")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "gpu_smoke.json"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.device == "cuda" and not torch.cuda.is_available():
        report = {"script": "bench/gpu_smoke.py", "ok": False, "error": "no CUDA device visible: not run on GPU",
                  "environment": {"torch": torch.__version__, "cuda_available": False}}
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(report["error"], file=sys.stderr)
        return 2
    report = run(args.device, args.size or ("small" if args.device == "cuda" else "tiny"), args.threads,
                 [p.strip() for p in args.parts.split(",") if p.strip()])
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    summary = {name: ("skipped" if not part.get("ran") else ("ok" if part.get("ok", True) else "FAILED"))
               for name, part in report["parts"].items()}
    print(json.dumps({"ok": report["ok"], "parts": summary, "out": str(out)}))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
