"""Interpretability adapters on tiny models of every family: shapes, hooks, exact offsets, greedy decoding."""

from __future__ import annotations

import pytest
import torch

from xdetox import XdetoxError
from xdetox.interp.adapters import make_adapter
from xdetox.interp.greedy import encode_prompts, greedy_generate
from xdetox.models import adds_bos

FAMILIES = ["gpt2", "bloom", "llama", "gemma"]
TEXTS = ["I hate you", "Thank you for the lovely dinner, it was", "我恨你", "Je te"]


_LOADED: dict = {}


def load(tiny_model_dir, family):
    """The tiny model of `family`, loaded once for this module (these tests never change weights)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if family not in _LOADED:
        path = tiny_model_dir(family)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        _LOADED[family] = (model, AutoTokenizer.from_pretrained(path))
    return _LOADED[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_and_detected_family(tiny_model_dir, family):
    model, tok = load(tiny_model_dir, family)
    adapter = make_adapter(model)  # detected from the model type
    assert adapter.family == family
    assert adapter.n_layers == 2 and adapter.d_model == 32
    assert adapter.d_mlp == (128 if family == "bloom" else 64)  # BLOOM's MLP is 4 × hidden
    all_values = adapter.value_vectors()
    assert all_values.shape == (2 * adapter.d_mlp, 32)
    assert torch.equal(all_values[adapter.flat_index(1, 5)], adapter.value_vector(1, 5))
    assert adapter.unflat(adapter.flat_index(1, 5)) == (1, 5)
    assert adapter.unembedding().shape == (len(tok), 32)
    assert adapter.post_mlp_norm == (family == "gemma")


@pytest.mark.parametrize("family", FAMILIES)
def test_down_projection_is_the_sum_of_activations_times_value_vectors(tiny_model_dir, family):
    """MLP output = Σ_j a_j w_down_j (+ bias): the value vectors have the right orientation for every family."""
    model, tok = load(tiny_model_dir, family)
    adapter = make_adapter(model, family)
    outputs = {}
    handle = adapter.down_proj(1).register_forward_hook(lambda m, a, out: outputs.setdefault("out", out.detach()))
    ids = tok(TEXTS[1], return_tensors="pt").input_ids
    with adapter.record(last_position=False) as rec, torch.no_grad():
        model(input_ids=ids)
    handle.remove()
    acts = rec.layer(1)[0]  # [1, T, d_mlp]
    bias = getattr(adapter.down_proj(1), "bias", None)
    expected = acts @ adapter.value_vectors(1) + (bias.detach() if bias is not None else 0)
    torch.testing.assert_close(outputs["out"], expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("layer", [0, 1])
def test_offset_changes_that_mlp_output_by_offset_times_value_vector(tiny_model_dir, family, layer):
    model, tok = load(tiny_model_dir, family)
    adapter = make_adapter(model, family)
    outs = []
    handle = adapter.down_proj(layer).register_forward_hook(lambda m, a, out: outs.append(out.detach().clone()))
    ids = tok(TEXTS[0], return_tensors="pt").input_ids
    with torch.no_grad():
        model(input_ids=ids)
        with adapter.add_offset([(layer, 7)], 2.5):
            model(input_ids=ids)
        model(input_ids=ids)  # the hook is gone again
    handle.remove()
    diff = outs[1] - outs[0]
    expected = 2.5 * adapter.value_vector(layer, 7)
    torch.testing.assert_close(diff, expected.expand_as(diff), atol=1e-5, rtol=1e-4)  # at every position
    torch.testing.assert_close(outs[2], outs[0])
    assert not adapter.down_proj(layer)._forward_pre_hooks


def test_offset_on_an_earlier_layer_changes_later_activations_only(tiny_model_dir):
    model, tok = load(tiny_model_dir, "gpt2")
    adapter = make_adapter(model)
    ids = tok(TEXTS[0], return_tensors="pt").input_ids
    with torch.no_grad(), adapter.record(last_position=False) as plain:
        model(input_ids=ids)
    with torch.no_grad(), adapter.add_offset([(0, 3)], 1.0), adapter.record(last_position=False) as edited:
        model(input_ids=ids)
    delta0 = edited.layer(0)[0] - plain.layer(0)[0]
    assert torch.allclose(delta0[..., 3], torch.ones_like(delta0[..., 3]))  # the recorder sees the edited value
    assert torch.allclose(delta0[..., :3], torch.zeros_like(delta0[..., :3]))
    assert not torch.allclose(edited.layer(1)[0], plain.layer(1)[0])


def test_bad_neuron_and_family_are_reported(tiny_model_dir):
    model, _ = load(tiny_model_dir, "gpt2")
    adapter = make_adapter(model)
    with pytest.raises(XdetoxError, match="outside"):
        with adapter.add_offset([(5, 0)], 1.0):
            pass
    with pytest.raises(XdetoxError, match="unknown family"):
        make_adapter(model, "t5")


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_matches_generate_and_does_not_depend_on_batching(tiny_model_dir, family):
    model, tok = load(tiny_model_dir, family)
    adapter = make_adapter(model, family)
    neurons = [(0, 1), (1, 3), (0, 5)]
    batched = greedy_generate(model, tok, TEXTS, 6, batch_size=4, adapter=adapter, neurons=neurons, prepend_bos=False)
    single = greedy_generate(model, tok, TEXTS, 6, batch_size=1, adapter=adapter, neurons=neurons, prepend_bos=False)
    assert batched.token_ids == single.token_ids
    assert batched.activations.shape == (4, 6, 3)
    torch.testing.assert_close(batched.activations, single.activations, atol=1e-4, rtol=1e-3)
    for text, ids in zip(TEXTS, single.token_ids):
        enc = tok(text, return_tensors="pt")
        ref = model.generate(**enc, do_sample=False, max_new_tokens=6, min_new_tokens=6, pad_token_id=tok.pad_token_id)
        assert ref[0, enc.input_ids.shape[1]:].tolist() == ids
    # step 0 records the last prompt token: the same as a plain forward pass over the prompt
    enc = tok(TEXTS[0], return_tensors="pt")
    with torch.no_grad(), adapter.record(neurons) as rec:
        model(**enc)
    torch.testing.assert_close(rec.steps()[0, 0], single.activations[0, 0], atol=1e-5, rtol=1e-4)


def self_bos_tokenizer(tok):
    """A copy of the tiny tokenizer that adds BOS itself, as Gemma's and Llama's do."""
    import copy

    from tokenizers import processors

    tok = copy.deepcopy(tok)
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{tok.bos_token} $A", special_tokens=[(tok.bos_token, tok.bos_token_id)])
    return tok


def tokenizer_of(tiny_model_dir, style):
    """(model, tokenizer): mGPT-like (gpt2) and BLOOM-like tokenizers add no BOS; "self-bos" adds its own."""
    model, tok = load(tiny_model_dir, "gpt2" if style == "self-bos" else style)
    if style == "self-bos":
        tok = self_bos_tokenizer(tok)
    assert adds_bos(tok) == (style == "self-bos")
    return model, tok


@pytest.mark.parametrize("style", ["gpt2", "bloom", "self-bos"])
def test_prepend_bos_starts_every_prompt_with_exactly_one_bos(tiny_model_dir, style):
    _, tok = tokenizer_of(tiny_model_dir, style)
    bos = tok.bos_token_id
    plain = [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS]
    assert all(p and p[0] != bos for p in plain)
    assert encode_prompts(tok, TEXTS, prepend_bos=True) == [[bos] + p for p in plain]
    # without it nothing is added: only a tokenizer's own BOS remains
    own = [[bos] + p for p in plain] if style == "self-bos" else plain
    assert encode_prompts(tok, TEXTS, prepend_bos=False) == own


@pytest.mark.parametrize("style", ["gpt2", "bloom", "self-bos"])
@pytest.mark.parametrize("prepend_bos", [True, False])
def test_greedy_decoding_reads_prompts_with_bos_as_configured(tiny_model_dir, style, prepend_bos):
    model, tok = tokenizer_of(tiny_model_dir, style)
    prefills = []

    def record(module, args, kwargs):
        if kwargs["input_ids"].shape[1] > 1:  # the prefill, not a one-token decoding step
            prefills.append((kwargs["input_ids"].tolist(), kwargs["attention_mask"].tolist()))

    handle = model.register_forward_pre_hook(record, with_kwargs=True)
    try:
        greedy_generate(model, tok, TEXTS, 2, batch_size=len(TEXTS), prepend_bos=prepend_bos)
    finally:
        handle.remove()
    (ids, mask), = prefills
    rows = sorted([i for i, m in zip(row, mrow) if m] for row, mrow in zip(ids, mask))
    plain = sorted(tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS)
    bos = tok.bos_token_id
    with_bos = prepend_bos or style == "self-bos"
    assert rows == (sorted([bos] + p for p in plain) if with_bos else plain)
    assert all((r[0] == bos) == with_bos and r[1] != bos for r in rows)
