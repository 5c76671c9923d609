"""Generation throughput: the HF backend (prefill once, n samples from the KV cache, exact nucleus sampling) against
a naive loop of `model.generate(do_sample=True, temperature=0.9, top_p=0.8, top_k=0, max_new_tokens=20,
num_return_sequences=25)`, one prompt at a time — same model, prompts and sampling distribution, in one run, the
two measured alternately (the machine's load drifts). top_k=0: transformers' generate would otherwise add its
default top-k of 50, which the paper's sampling does not have.

    .venv/bin/python bench/generation.py --model /tmp/gemma-base            # CPU, writes bench/out/generation.json
    python bench/generation.py --model <folder> --device cuda --prompts 64  # a GPU session

Tokens are new tokens up to (not including) each continuation's EOS, for both. Model loading is timed separately
and not part of tokens/s. `roofline()` estimates the decode-bound tokens/s of a GPU for a model shape (weights +
KV-cache bytes read per step ÷ HBM bandwidth, or FLOPs ÷ peak if that is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

#: benign-to-toxic RTP-LX-like openings in several scripts (the workload's prompts are short)
PROMPTS = [
    ("en", "I can't believe you would say something so"),
    ("de", "Ich hasse es, wenn du mir sagst, dass"),
    ("es", "No puedo creer que seas tan"),
    ("fr", "Tu es vraiment le plus"),
    ("zh-hans", "我真的不敢相信你竟然"),
    ("ar", "لا أصدق أنك قلت"),
    ("hi", "मुझे विश्वास नहीं होता कि तुम"),
    ("ru", "Я не могу поверить, что ты такой"),
    ("ja", "あなたがそんなことを言うなんて"),
    ("ko", "네가 그런 말을 하다니 정말"),
    ("pt", "Eu não acredito que você é tão"),
    ("it", "Non posso credere che tu sia così"),
]

GPUS = {  # HBM bandwidth (bytes/s), dense bf16 peak (FLOP/s)
    "H100-SXM": (3.35e12, 989e12),
    "H200": (4.8e12, 989e12),
    "A100-80GB": (2.0e12, 312e12),
}

#: a ~1B decoder (Llama-3.2-1B-like): parameters, layers, KV heads × head dim, vocabulary
ONE_B = {"n_params": 1.24e9, "n_layers": 16, "n_kv_heads": 8, "head_dim": 64, "vocab": 128256}


def roofline(n_params: float, n_layers: int, n_kv_heads: int, head_dim: int, batch: int, context: int,
             hbm_bytes_per_s: float, peak_flops: float, bytes_per_param: int = 2, bytes_per_kv: int = 2, **_) -> dict:
    """Upper bound on decode tokens/s: per step the weights are read once and each sequence reads its KV cache."""
    weight_bytes = n_params * bytes_per_param
    kv_bytes = batch * context * 2 * n_layers * n_kv_heads * head_dim * bytes_per_kv
    t_memory = (weight_bytes + kv_bytes) / hbm_bytes_per_s
    t_compute = 2 * n_params * batch / peak_flops
    t_step = max(t_memory, t_compute)
    return {"batch": batch, "context": context, "weights_GB": weight_bytes / 1e9, "kv_GB": kv_bytes / 1e9,
            "step_ms": 1e3 * t_step, "bound": "memory" if t_memory >= t_compute else "compute",
            "tokens_per_s": batch / t_step}


def count_new_tokens(sequences, prompt_len: int, eos_ids: set[int]) -> int:
    total = 0
    for seq in sequences.tolist():
        for t in seq[prompt_len:]:
            if t in eos_ids:
                break
            total += 1
    return total


def naive_run(model, tok, prompts, args, device) -> tuple[int, float]:
    import torch

    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    tokens, start = 0, time.perf_counter()
    for p in prompts:
        enc = tok(p["text"], return_tensors="pt").to(device)
        with torch.inference_mode():
            out = model.generate(**enc, do_sample=True, temperature=args.temperature, top_p=args.top_p, top_k=0,
                                 max_new_tokens=args.max_new_tokens, num_return_sequences=args.samples,
                                 pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        tokens += count_new_tokens(out, enc["input_ids"].shape[1], eos_ids)
    return tokens, time.perf_counter() - start


def fast_run(backend, prompts, sampling) -> tuple[int, float]:
    start = time.perf_counter()
    records = backend.generate(None, prompts, sampling)
    return sum(r["n_tokens"] for r in records), time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="/tmp/gemma-base")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads on CPU (default: torch's)")
    parser.add_argument("--prompts", type=int, default=8, help="prompts per run (cycled from the built-in list)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds of naive and fast")
    parser.add_argument("--samples", type=int, default=25)
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--top-p", type=float, default=0.8)
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per forward pass of the fast backend")
    parser.add_argument("--fast-dtype", default="auto", help="fast backend dtype (auto: bf16 where native)")
    parser.add_argument("--naive-dtype", default="float32", help="naive baseline dtype (the checkpoint's own: fp32)")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "generation.json"))
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from xdetox.generation.base import Sampling
    from xdetox.generation.hf import HFBackend, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    prompts = [{"id": str(i), "lang": PROMPTS[i % len(PROMPTS)][0], "text": PROMPTS[i % len(PROMPTS)][1]}
               for i in range(args.prompts)]
    sampling = Sampling(n_samples=args.samples, temperature=args.temperature, top_p=args.top_p,
                        max_new_tokens=args.max_new_tokens, seed=0, batch_size=args.batch_size, dtype=args.fast_dtype)

    t = time.perf_counter()
    fast_model, fast_tok = load_model(args.model, args.fast_dtype, args.device)
    load_fast = time.perf_counter() - t
    t = time.perf_counter()
    naive_tok = AutoTokenizer.from_pretrained(args.model)
    naive_model = AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, args.naive_dtype)).to(device)
    naive_model.eval()
    load_naive = time.perf_counter() - t
    backend = HFBackend(fast_model, fast_tok, threads=args.threads, progress=False)

    runs = {"naive": [], "fast": []}
    for r in range(args.repeats):
        for name in ("naive", "fast") if r % 2 == 0 else ("fast", "naive"):
            torch.manual_seed(r)
            tokens, seconds = (naive_run(naive_model, naive_tok, prompts, args, device) if name == "naive"
                               else fast_run(backend, prompts, sampling))
            runs[name].append({"tokens": tokens, "seconds": round(seconds, 3), "tokens_per_s": round(tokens / seconds, 2)})
            print(f"round {r + 1}: {name:5s} {tokens:6d} tokens in {seconds:7.1f} s = {tokens / seconds:8.1f} tokens/s",
                  flush=True)
    median = {k: statistics.median(x["tokens_per_s"] for x in v) for k, v in runs.items()}
    result = {
        "what": "HF backend tokens/s ÷ naive model.generate loop tokens/s (same model, prompts, sampling)",
        "ratio": round(median["fast"] / median["naive"], 2),
        "median_tokens_per_s": median,
        "runs": runs,
        "load_seconds": {"fast": round(load_fast, 1), "naive": round(load_naive, 1)},
        "settings": {"model": args.model, "device": args.device, "prompts": args.prompts, "samples": args.samples,
                     "max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "top_p": args.top_p,
                     "top_k": "none (naive: top_k=0)", "batch_size": args.batch_size,
                     "fast_dtype": str(next(fast_model.parameters()).dtype), "naive_dtype": args.naive_dtype,
                     "threads": torch.get_num_threads()},
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(), "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None},
        "roofline_1b": {gpu: [roofline(**ONE_B, batch=b, context=48, hbm_bytes_per_s=bw, peak_flops=fl)
                              for b in (200, 2048)] for gpu, (bw, fl) in GPUS.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ratio", "median_tokens_per_s", "load_seconds", "settings")}, indent=2))
    print(f"written to {out}")
    return result


if __name__ == "__main__":
    main()
