"""Hugging Face transformers backend: one prompt forward pass, n continuations sampled from its KV cache.

For each batch of prompts (grouped by length, left-padded) the prompt is run once; the cache is repeated n times
and the n continuations are decoded together, one token per step, with exact nucleus sampling and one random stream
per (prompt, sample), so a rerun with the same settings is byte-identical (also with another thread count). The
random streams do not depend on batching either; the logits do, slightly, in bf16/fp16 (matrix kernels and padding
change with the batch's shape), so in reduced precision a different batch_size or prompt set gives different — equally
valid — samples. In float32 the tiny test models give the same samples for any batching.

Speed (CPU): bf16 weights where the CPU has native bf16 matrix instructions (else float32), torch threads = the job's
threads, nucleus sampling without a full-vocabulary sort (nucleus.py), no per-row Python work per step.
Memory: at most `max_sequences` sequences are decoded together; on CUDA an out-of-memory error halves the batch and
retries (every sequence restarts from its own seed, so the output is unchanged). On CPU an allocation failure is not
retried: a process that hit one can stay very slow afterwards; lower generation.batch_size instead.
"""

from __future__ import annotations

import logging
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .. import XdetoxError, models
from ..models import resolve_device, resolve_dtype
from .base import Sampling, generation_record, note_model_load, sample_seed
from .nucleus import draw, nucleus_sets

log = logging.getLogger("xdetox.generation")

#: sequences decoded together at most (prompts × samples): bounds memory on large vocabularies
MAX_SEQUENCES = {"cpu": 256, "cuda": 2048}


def load_model(model_path: str, dtype: str, device: str | None = None):
    """(model, tokenizer) for sampling, counted as one model load of this process."""
    dev = resolve_device(device)
    note_model_load(model_path, "hf", dtype=str(resolve_dtype(dtype, dev)).removeprefix("torch."), device=dev.type)
    return models.load_model(model_path, dtype=dtype, device=dev), models.load_tokenizer(model_path)


def _batches(lengths: list[int], prompts_per_batch: int) -> list[list[int]]:
    """Indices grouped by prompt length (less padding), each group at most `prompts_per_batch`."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + prompts_per_batch] for i in range(0, len(order), prompts_per_batch)]


def _is_cpu_alloc_failure(err: RuntimeError) -> bool:
    text = str(err)
    return "DefaultCPUAllocator" in text or "can't allocate memory" in text


class HFBackend:
    def __init__(self, model=None, tokenizer=None, threads: int | None = None, progress: bool = True,
                 device: str | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.threads, self.progress, self.device = threads, progress, device

    def generate(self, model_path: str | None, prompts: Sequence[dict], sampling: Sampling) -> list[dict]:
        if self.model is None:
            self.model, self.tokenizer = load_model(model_path, sampling.dtype, self.device)
        device = next(self.model.parameters()).device
        if device.type == "cpu":
            models.set_threads(self.threads)
        tok = self.tokenizer
        encoded = [tok(p["text"], add_special_tokens=True)["input_ids"] for p in prompts]
        max_sequences = MAX_SEQUENCES.get(device.type, MAX_SEQUENCES["cpu"])
        per_batch = max(1, min(sampling.batch_size, max_sequences // sampling.n_samples))
        results: dict[int, list[dict]] = {}
        bar = tqdm(total=len(prompts) * sampling.n_samples, unit="seq", desc="sampling", disable=not self.progress,
                   mininterval=5)
        batches = _batches([len(e) for e in encoded], per_batch)
        while batches:
            batch = batches.pop(0)
            try:
                texts = self._sample_batch([encoded[i] for i in batch], [prompts[i] for i in batch], sampling)
            except torch.OutOfMemoryError:
                if len(batch) == 1:
                    raise
                torch.cuda.empty_cache()
                half = len(batch) // 2
                log.warning("out of memory with %d prompts per batch; retrying with %d", len(batch), half)
                batches[:0] = [batch[:half], batch[half:]]
                continue
            except RuntimeError as err:
                if device.type == "cpu" and _is_cpu_alloc_failure(err):
                    raise XdetoxError(
                        f"out of memory sampling {len(batch)} prompts × {sampling.n_samples} samples on CPU: "
                        "lower generation.batch_size (a process that failed an allocation can stay slow, so this "
                        "job stops instead of retrying)"
                    ) from err
                raise
            for i, records in zip(batch, texts):
                results[i] = records
            bar.update(len(batch) * sampling.n_samples)
        bar.close()
        return [record for i in range(len(prompts)) for record in results[i]]

    @torch.inference_mode()
    def _sample_batch(self, encoded: list[list[int]], prompts: list[dict], sampling: Sampling) -> list[list[dict]]:
        model, tok = self.model, self.tokenizer
        device = next(model.parameters()).device
        n, pad_id = sampling.n_samples, models.pad_id(tok)
        ids, mask = models.left_padded(encoded, pad_id, device)
        positions = (mask.cumsum(-1) - 1).clamp_min(0)
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        cache = out.cache
        cache.batch_repeat_interleave(n)
        logits = out.logits[:, -1, :].repeat_interleave(n, dim=0)
        mask = mask.repeat_interleave(n, dim=0)
        next_pos = positions[:, -1:].repeat_interleave(n, dim=0) + 1
        seeds = [sample_seed(sampling.seed, p["lang"], p["id"], s) for p in prompts for s in range(n)]
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        eos = torch.tensor(sorted(models.eos_ids(tok, model=model)), dtype=torch.long, device=device)
        finished = torch.zeros(len(seeds), dtype=torch.bool, device=device)
        steps: list[torch.Tensor] = []  # token per step, pad_id once a sequence has finished
        for step in range(sampling.max_new_tokens):
            cand_ids, cand_probs = nucleus_sets(logits, sampling.temperature, sampling.top_p)
            token = draw(cand_ids, cand_probs, generators).to(device)
            token = torch.where(finished, torch.full_like(token, pad_id), token)
            finished = finished | torch.isin(token, eos)
            steps.append(torch.where(finished, torch.full_like(token, -1), token))
            if step == sampling.max_new_tokens - 1 or bool(finished.all()):
                break
            mask = torch.cat([mask, (~finished).long().unsqueeze(-1)], dim=-1)
            out = model(input_ids=token.unsqueeze(-1), attention_mask=mask, position_ids=next_pos,
                        cache=cache, use_cache=True, logits_to_keep=1)
            cache, logits = out.cache, out.logits[:, -1, :]
            next_pos = next_pos + 1
        table = torch.stack(steps, dim=1).tolist()  # [sequences, steps]; -1 from a sequence's EOS on
        generated = [[t for t in row if t >= 0] for row in table]
        records = []
        for p_idx, prompt in enumerate(prompts):
            rows = range(p_idx * n, (p_idx + 1) * n)
            records.append([
                generation_record(prompt, s, tok.decode(generated[r], skip_special_tokens=True), len(generated[r]), seeds[r])
                for s, r in enumerate(rows)
            ])
        return records

