"""Per-layer mean-pooled representations from tiny real models; padding must not change a pooled value."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xdetox import XdetoxError
from xdetox.retrieval.representations import encode, load_encoder, mean_pool
from xdetox.steps.retrieval import (load_representations, retrieval_figure4, retrieval_measures,
                                    retrieval_representations, retrieval_sentences, save_representations)

TEXTS = [
    "I hate you so much.",
    "Thank you for the lovely dinner, it was a wonderful evening with friends.",
    "Ich hasse dich.",
    "我恨你",
    "The weather today is sunny with a light breeze from the west, and tomorrow too.",
]


def test_mean_pool_ignores_masked_positions():
    torch = pytest.importorskip("torch")
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


@pytest.mark.parametrize("family", ["gpt2", "bloom", "gemma"])
def test_shapes_and_padding_invariance(tiny_model_dir, family):
    tokenizer, model = load_encoder(tiny_model_dir(family), "float32")
    n_layers, d = model.config.num_hidden_layers, model.config.hidden_size
    batched, n_tokens = encode(tokenizer, model, TEXTS, batch_size=3, max_length=512, add_special_tokens=True)
    assert batched.shape == (n_layers + 1, len(TEXTS), d) and batched.dtype == np.float32
    assert len(set(n_tokens.tolist())) > 1  # lengths differ, so batches are padded
    single, _ = encode(tokenizer, model, TEXTS, batch_size=1, max_length=512, add_special_tokens=True)
    np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-5)
    unsorted, _ = encode(tokenizer, model, TEXTS, batch_size=5, max_length=512, add_special_tokens=True,
                         sort_by_length=False)
    np.testing.assert_allclose(unsorted, single, rtol=1e-4, atol=1e-5)


def test_body_hidden_states_equal_the_causal_lm_s(tiny_model_dir):
    """Only the transformer body runs; its hidden states are those the reference reads off the causal LM."""
    import torch
    from transformers import AutoModelForCausalLM

    path = tiny_model_dir("gemma")
    tokenizer, body = load_encoder(path, "float32")
    full = AutoModelForCausalLM.from_pretrained(path).eval()
    batch = tokenizer(TEXTS[:3], return_tensors="pt", padding=True)
    with torch.inference_mode():
        ref = full(**batch, output_hidden_states=True).hidden_states
    ours, _ = encode(tokenizer, body, TEXTS[:3], batch_size=3, max_length=512, add_special_tokens=True,
                     sort_by_length=False)
    expected = np.stack([mean_pool(h, batch["attention_mask"]).numpy() for h in ref])
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_pad_falls_back_to_eos(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    src = tiny_model_dir("gpt2")
    dst = tmp_path / "nopad"
    shutil.copytree(src, dst)
    tok = AutoTokenizer.from_pretrained(dst)
    tok.pad_token = None
    tok.save_pretrained(dst)
    tokenizer, _ = load_encoder(dst, "float32")
    assert tokenizer.pad_token_id == tokenizer.eos_token_id and tokenizer.padding_side == "right"
    with pytest.raises(XdetoxError, match="model folder not found"):
        load_encoder(tmp_path / "missing", "float32")


def test_save_and_load_round_trip(tmp_path):
    hidden = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    save_representations(tmp_path / "r.npz", hidden, np.array([1, 2, 3, 4]), {"lang": "de"})
    back, meta = load_representations(tmp_path / "r.npz")
    np.testing.assert_array_equal(back, hidden)
    assert meta == {"lang": "de"}
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(XdetoxError, match="bad.npz"):
        load_representations(tmp_path / "bad.npz")


def test_steps_end_to_end_on_a_tiny_model(tiny_model_dir, tmp_path):
    """sentences -> representations per language -> measures -> predictor, as the workflow's scripts call them."""
    data = tmp_path / "data"
    folder = data / "cross-lingual-detox" / "translated_pairwise_data"
    folder.mkdir(parents=True)
    texts = {"en": TEXTS, "de": [t + " (de)" for t in TEXTS], "fr": [t[::-1] for t in TEXTS]}
    for lang, lines in texts.items():
        (folder / f"dpo_toxicity_pairwise_{lang}_200.jsonl").write_text(
            "".join(json.dumps({"Prompt": t}) + "\n" for t in lines), encoding="utf-8")
    langs = list(texts)
    outs = [str(tmp_path / f"s/{lang}.jsonl") for lang in langs]
    sources = [str(folder / f"dpo_toxicity_pairwise_{lang}_200.jsonl") for lang in langs]
    assert retrieval_sentences("parallel200", langs, sources, outs, 4) == 4
    cfg = {"batch_size": 2, "max_length": 64, "add_special_tokens": True}
    reps = {lang: str(tmp_path / f"r/{lang}.npz") for lang in langs}
    shapes = retrieval_representations(str(tiny_model_dir("gpt2")), dict(zip(langs, outs)), reps, cfg, "float32",
                                       threads=1)
    assert shapes == {lang: (3, 4, 32) for lang in langs}
    assert load_representations(reps["fr"])[1]["lang"] == "fr"
    summary = retrieval_measures(reps, str(tmp_path / "m.csv"), str(tmp_path / "m.json"), str(tmp_path / "layers.png"),
                                 "tiny")
    assert set(summary) == {"de", "fr"}
    metrics = {}
    for stage, emt in (("base", {"en": 0.5, "de": 0.4, "fr": 0.3}), ("dpo", {"en": 0.1, "de": 0.2, "fr": 0.25})):
        metrics[stage] = {}
        for lang, v in emt.items():
            path = tmp_path / f"metrics/{stage}/{lang}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"emt": v}))
            metrics[stage][lang] = str(path)
    result = retrieval_figure4(str(tmp_path / "m.json"), metrics["base"], metrics["dpo"], str(tmp_path / "p.csv"),
                               str(tmp_path / "p.json"), str(tmp_path / "f4.png"), "accuracy", "tiny")
    assert result["languages"] == ["de", "fr"] and result["correlation"]["pearson_r"] is None  # 2 points only
    for png in ("layers.png", "f4.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
