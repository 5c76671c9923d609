"""Selecting toxic value vectors on tiny models with planted structure (every family)."""

from __future__ import annotations

import pytest
import torch

from xdetox.interp.adapters import make_adapter
from xdetox.interp.value_vectors import rank_value_vectors, select_sources, selected_neurons
from xdetox.io import write_jsonl
from xdetox.steps.interpret import interp_value_vectors, read_value_vectors

FAMILIES = ["gpt2", "bloom", "llama", "gemma"]
PROMPTS = ["I hate you so much", "Thank you for the lovely dinner", "The weather today is", "you are an idiot and"]


def fresh(tiny_model_dir, family):
    """A private copy (these tests edit weights)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_model_dir(family)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(path)


def set_value_vector(adapter, layer, neuron, vector):
    down = adapter.down_proj(layer)
    with torch.no_grad():
        if adapter.family == "gpt2":
            down.weight[neuron] = vector  # Conv1D [in, out]
        else:
            down.weight[:, neuron] = vector


def force_activation_sign(adapter, layer, neuron, sign):
    """Make a neuron's activation positive (sign=+1) or ≤ 0 (sign=-1) on every input."""
    mlp = adapter.blocks[layer].mlp
    with torch.no_grad():
        if adapter.family == "gpt2":  # act(x·W[:, n] + b[n]) with W = 0: gelu(5) ≈ 5, gelu(-0.75) ≈ -0.17
            mlp.c_fc.weight[:, neuron] = 0
            mlp.c_fc.bias[neuron] = 5.0 if sign > 0 else -0.75
        elif adapter.family == "bloom":
            mlp.dense_h_to_4h.weight[neuron] = 0
            mlp.dense_h_to_4h.bias[neuron] = 5.0 if sign > 0 else -0.75
        else:  # gated: act(g·x) * (u·x) with u = ±g is ±z²·σ-like(z), never of the other sign
            g = torch.randn(mlp.gate_proj.weight.shape[1]) * 3
            mlp.gate_proj.weight[neuron] = g
            mlp.up_proj.weight[neuron] = sign * g


@pytest.mark.parametrize("family", FAMILIES)
def test_a_value_vector_equal_to_the_probe_direction_ranks_first(tiny_model_dir, family):
    model, _ = fresh(tiny_model_dir, family)
    adapter = make_adapter(model, family)
    probe = torch.randn(adapter.d_model, generator=torch.Generator().manual_seed(1))
    set_value_vector(adapter, 1, 7, 0.05 * probe)  # scale does not matter for cosine
    rows = rank_value_vectors(adapter, probe, top_k=10)
    assert (rows[0]["layer"], rows[0]["neuron"], rows[0]["rank"]) == (1, 7, 1)
    assert rows[0]["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert [r["rank"] for r in rows] == list(range(1, 11))
    assert all(a["cosine"] >= b["cosine"] for a, b in zip(rows, rows[1:]))


@pytest.mark.parametrize("family", FAMILIES)
def test_activation_filter_keeps_positive_neurons_only(tiny_model_dir, family):
    model, tok = fresh(tiny_model_dir, family)
    adapter = make_adapter(model, family)
    force_activation_sign(adapter, 1, 3, +1)
    force_activation_sign(adapter, 0, 9, -1)
    candidates = [{"layer": 1, "neuron": 3, "cosine": 0.9, "rank": 1}, {"layer": 0, "neuron": 9, "cosine": 0.8, "rank": 2}]
    rows = select_sources(model, tok, adapter, candidates, PROMPTS, n_tokens=5, batch_size=2, prepend_bos=True)
    assert rows[0]["mean_activation"] > 0 and rows[0]["selected"]
    assert rows[1]["mean_activation"] <= 0 and not rows[1]["selected"]
    assert selected_neurons(rows) == [(1, 3)]


def test_value_vectors_step_end_to_end(tiny_model_dir, tmp_path):
    model, _ = fresh(tiny_model_dir, "gpt2")
    adapter = make_adapter(model)
    probe = adapter.value_vector(1, 11).clone()
    torch.save({"weight": probe, "best_epoch": 1}, tmp_path / "probe.pt")
    write_jsonl(tmp_path / "en.jsonl", [{"id": i, "lang": "en", "text": t} for i, t in enumerate(PROMPTS)])
    interpret = {"top_k": 8, "n_tokens": 4, "batch_size": 3, "max_prompts": 3, "prepend_bos": True}
    out = tmp_path / "value_vectors.csv"
    rows = interp_value_vectors(str(tiny_model_dir("gpt2")), str(tmp_path / "probe.pt"), str(tmp_path / "en.jsonl"),
                                str(out), interpret, {"dtype": "float32", "family": "gpt2", "label": "Tiny"})
    back = read_value_vectors(out)
    assert len(back) == 8 and (back[0]["layer"], back[0]["neuron"]) == (1, 11)
    assert [r["selected"] for r in back] == [r["mean_activation"] > 0 for r in back]
    assert back == [{**r, "cosine": pytest.approx(r["cosine"]), "mean_activation": pytest.approx(r["mean_activation"])}
                    for r in rows]
    assert out.read_text().splitlines()[0] == "layer,neuron,cosine,rank,mean_activation,selected"
