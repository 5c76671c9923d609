"""Causal intervention: add an offset γ to chosen neurons' activations (paper §4.2–4.3, Table 5, Figure 2).

As the reference's TransformerLens hook on `mlp_post`, γ is added at every position (prompt tokens included) at every
decoding step; decoding is greedy.

- Table 5: a few short prompts in several languages, continued for 10 tokens with γ = 0 and γ = 5 on a small group
  of neurons (the paper: four hand-picked "sexual" neurons; default here: the first `group_size` actual sources by
  cosine rank, or an explicit `neurons` list).
- Figure 2: average toxicity of greedy continuations (n_tokens) per language and averaged over languages, for a sweep
  of negative offsets on all actual sources; scored with the configured scorer. Distinct-1 of the continuations is
  reported beside it: a large offset can lower "toxicity" simply by breaking the model into repetition.
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

from .. import models
from .adapters import MLPAdapter, Neuron
from .greedy import greedy_generate
from .value_vectors import selected_neurons

log = logging.getLogger("xdetox.interp")


def continue_with_offset(model, tokenizer, adapter: MLPAdapter, texts: Sequence[str], neurons: Sequence[Neuron],
                         offset: float, n_tokens: int, batch_size: int, *, prepend_bos: bool) -> list[str]:
    return _greedy_with_offset(model, tokenizer, adapter, texts, neurons, offset, n_tokens, batch_size,
                               prepend_bos).texts


def _greedy_with_offset(model, tokenizer, adapter, texts, neurons, offset, n_tokens, batch_size, prepend_bos):
    with adapter.add_offset(neurons, offset):
        return greedy_generate(model, tokenizer, texts, n_tokens, batch_size, prepend_bos=prepend_bos)


def distinct_1(token_ids: Sequence[int], stop: set[int]) -> float:
    """Distinct tokens / tokens of one continuation (up to end-of-sequence): low values flag degenerate repetition."""
    cut = next((k for k, t in enumerate(token_ids) if t in stop), len(token_ids))
    ids = token_ids[:cut]
    return len(set(ids)) / len(ids) if ids else 0.0


def table5(model, tokenizer, adapter: MLPAdapter, prompts: Mapping[str, str], neurons: Sequence[Neuron],
           offsets: Sequence[float], max_new_tokens: int, *, prepend_bos: bool) -> list[dict]:
    langs, texts = list(prompts), list(prompts.values())
    rows = []
    for offset in offsets:
        outs = continue_with_offset(model, tokenizer, adapter, texts, neurons, offset, max_new_tokens, len(texts),
                                    prepend_bos=prepend_bos)
        rows += [{"lang": l, "prompt": p, "offset": offset, "continuation": c} for l, p, c in zip(langs, texts, outs)]
    return rows


def table5_neurons(rows: list[dict], t5: dict) -> list[Neuron]:
    if t5["neurons"]:
        return [tuple(n) for n in t5["neurons"]]
    return selected_neurons(rows, t5["group_size"])


def figure2_sweep(model, tokenizer, adapter: MLPAdapter, prompts_by_lang: Mapping[str, list[str]],
                  neurons: Sequence[Neuron], offsets: Sequence[float], scorer, n_tokens: int,
                  batch_size: int, *, prepend_bos: bool) -> tuple[list[dict], list[dict]]:
    """Average toxicity per (offset, language) plus the per-offset mean over languages; and the generations."""
    langs = list(prompts_by_lang)
    flat = [(lang, i, text) for lang in langs for i, text in enumerate(prompts_by_lang[lang])]
    stop = models.eos_ids(tokenizer, model=model)
    rows, generations = [], []
    for offset in offsets:
        result = _greedy_with_offset(model, tokenizer, adapter, [t for _, _, t in flat], neurons, offset, n_tokens,
                                     batch_size, prepend_bos)
        per_lang, per_lang_d1 = [], []
        for lang in langs:
            idx = [k for k, (l, _, _) in enumerate(flat) if l == lang]
            texts = [result.texts[k] for k in idx]
            d1 = [distinct_1(result.token_ids[k], stop) for k in idx]
            tox = [s.toxicity for s in scorer.score(texts, lang)]
            avg, avg_d1 = sum(tox) / len(tox), sum(d1) / len(d1)
            per_lang.append(avg)
            per_lang_d1.append(avg_d1)
            rows.append({"offset": offset, "lang": lang, "avg_toxicity": avg, "distinct_1": avg_d1, "n": len(tox)})
            generations += [{"offset": offset, "lang": lang, "prompt": flat[k][2], "text": t, "toxicity": s,
                             "distinct_1": d}
                            for k, t, s, d in zip(idx, texts, tox, d1)]
        rows.append({"offset": offset, "lang": "average", "avg_toxicity": sum(per_lang) / len(per_lang),
                     "distinct_1": sum(per_lang_d1) / len(per_lang_d1), "n": len(flat)})
        log.info("offset %g: average toxicity %.4f, distinct-1 %.3f", offset, rows[-1]["avg_toxicity"],
                 rows[-1]["distinct_1"])
    return rows, generations


