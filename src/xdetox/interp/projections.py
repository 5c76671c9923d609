"""Value vectors projected onto the vocabulary (paper Tables 4, 8, 9; protocol §3 "Vocabulary projection").

For each selected value vector w_down: logits = W_U @ w_down (the LM head, **no final norm**, as the reference's
`get_value_vector_projections`); the top-30 tokens are the ones it promotes. Table 4 shows the first few selected
vectors by cosine rank (the paper picked 4 by hand, two per theme); Tables 8–9 list all selected vectors. Themes
were annotated by hand in the paper and are not produced here.

Tokens are shown decoded, with a leading space written "_" as in the paper.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Sequence

import torch

from ..io import atomic_open, write_text
from .adapters import MLPAdapter, Neuron, caption_note
from .value_vectors import load_for_interp, read_value_vectors, selected_rows

log = logging.getLogger("xdetox.interp")


def top_tokens(adapter: MLPAdapter, neurons: Sequence[Neuron], k: int = 30) -> dict[Neuron, list[tuple[int, float]]]:
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


def _md_token(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if text.strip() else repr(text)


def projection_rows(adapter, tokenizer, rows: list[dict], k: int = 30) -> list[dict]:
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


def markdown_table(title: str, caption: str, proj: list[dict], limit: int | None = None) -> str:
    vectors: dict[tuple[int, int], list[dict]] = {}
    for p in proj:
        vectors.setdefault((p["layer"], p["neuron"]), []).append(p)
    keys = list(vectors)[:limit] if limit is not None else list(vectors)
    lines = [f"# {title}", "", caption, ""]
    lines += ["| # | Vector (layer, neuron) | Rank in top-k | Cosine | Mean activation | Top promoted tokens |",
              "|---|---|---|---|---|---|"]
    for i, key in enumerate(keys, start=1):
        ps = vectors[key]
        tokens = ", ".join(_md_token(p["token"]) for p in ps)
        lines.append(f"| {i} | w_down {key[0]},{key[1]} | {ps[0]['vector_rank']} | {ps[0]['cosine']:.4f} | "
                     f"{ps[0]['mean_activation']:.4f} | {tokens} |")
    if not keys:
        lines.append("| – | no value vector had a positive mean activation | | | | |")
    return "\n".join(lines) + "\n"


def projections_step(model_dir: str, value_vectors_csv: str, out_csv: str, table4_md: str, tables89_md: str,
                     interpret: dict, label: str = "", dtype: str = "float32", family: str | None = None,
                     threads: int | None = None) -> list[dict]:
    model, tokenizer, adapter = load_for_interp(model_dir, dtype, family, threads)
    rows = read_value_vectors(value_vectors_csv)
    k = interpret["projection_tokens"]
    proj = projection_rows(adapter, tokenizer, rows, k)
    fields = ["layer", "neuron", "vector_rank", "cosine", "mean_activation", "token_rank", "token_id", "token", "logit"]
    with atomic_open(out_csv) as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(proj)
    n_sel = len(selected_rows(rows))
    note = caption_note(adapter)
    who = f"{label}: " if label else ""
    common = (f"Top {k} tokens promoted by each value vector (W_U · w_down, no final norm), for the actual sources of "
              f"toxicity ({n_sel} of the top {len(rows)} value vectors by cosine with the probe that have a positive "
              f"mean activation on English prompts), ranked by cosine. \"_\" marks a leading space."
              + (f"\n\n{note}" if note else ""))
    n4 = interpret["table4_vectors"]
    write_text(table4_md, markdown_table(f"Table 4 analogue — {who}selected value-vector projections",
                                         f"The first {n4} actual sources by cosine rank (the paper chose 4 by theme). "
                                         + common, proj, n4))
    write_text(tables89_md, markdown_table(f"Tables 8–9 analogue — {who}projections of all {n_sel} actual sources",
                                           common, proj))
    log.info("projected %d value vectors onto the vocabulary", n_sel)
    return proj
