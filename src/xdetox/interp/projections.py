"""Value vectors projected onto the vocabulary (paper §4.3, Tables 4, 8, 9).

For each selected value vector w_down: logits = W_U @ w_down (the LM head, **no final norm**, as the reference's
`get_value_vector_projections`); the top-30 tokens are the ones it promotes. Table 4 shows the first few selected
vectors by cosine rank (the paper picked 4 by hand, two per theme); Tables 8–9 list all selected vectors. Themes
were annotated by hand in the paper and are not produced here.

Tokens are shown decoded, with a leading space written "_" as in the paper.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .adapters import MLPAdapter, Neuron
from .value_vectors import selected_rows


def top_tokens(adapter: MLPAdapter, neurons: Sequence[Neuron], k: int) -> dict[Neuron, list[tuple[int, float]]]:
    """(token id, logit) of the k tokens each value vector promotes most."""
    if not neurons:
        return {}
    unembed = adapter.unembedding().float()
    values = torch.stack([adapter.value_vector(l, n).float() for l, n in neurons])  # [m, d]
    logits = unembed @ values.T  # [vocab, m]
    top = torch.topk(logits, min(k, logits.shape[0]), dim=0)
    return {
        neuron: list(zip(top.indices[:, j].tolist(), top.values[:, j].tolist()))
        for j, neuron in enumerate(neurons)
    }


def show_token(tokenizer, token_id: int) -> str:
    text = tokenizer.decode([token_id])
    if text.startswith(" "):
        text = "_" + text[1:]
    return text


def projection_rows(adapter, tokenizer, rows: list[dict], k: int) -> list[dict]:
    """Long format: one row per (selected vector, token rank)."""
    sel = selected_rows(rows)
    tops = top_tokens(adapter, [(r["layer"], r["neuron"]) for r in sel], k)
    out = []
    for r in sel:
        for token_rank, (tid, logit) in enumerate(tops[(r["layer"], r["neuron"])], start=1):
            out.append({"layer": r["layer"], "neuron": r["neuron"], "vector_rank": r["rank"], "cosine": r["cosine"],
                        "mean_activation": r["mean_activation"], "token_rank": token_rank, "token_id": tid,
                        "token": show_token(tokenizer, tid), "logit": logit})
    return out


