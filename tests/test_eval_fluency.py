"""Fluency: the reference's mT5 perplexity (reference mode) and conditional perplexity under a causal LM (causal mode)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xdetox.metrics import fluency
from xdetox.metrics.fluency import (
    causal_perplexities,
    load_evaluator,
    reference_perplexities,
    select_samples,
    split_ids,
    summarize,
)

PROMPTS = ["I hate you so", "Danke für das", "我恨你"]
TEXTS = [" much, you idiot", " schöne Essen.", "", "   ", "x", " the weather today is sunny with a light breeze"]


def records():
    return [{"prompt_id": str(p), "lang": "en", "sample": s, "prompt": prompt, "text": text}
            for p, prompt in enumerate(PROMPTS) for s, text in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def tiny_mt5(tmp_path_factory):
    """A tiny random MT5 with the tiny models' trained tokenizer, which (like mT5's) appends EOS to every encoding."""
    from tokenizers.processors import TemplateProcessing
    from transformers import MT5Config, MT5ForConditionalGeneration

    from tiny import train_tokenizer

    tok = train_tokenizer()
    eos = tok.eos_token_id
    tok._tokenizer.post_processor = TemplateProcessing(single="$A <|endoftext|>", pair="$A $B <|endoftext|>",
                                                       special_tokens=[("<|endoftext|>", eos)])
    torch.manual_seed(0)
    config = MT5Config(vocab_size=len(tok), d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2,
                       num_heads=2, pad_token_id=tok.pad_token_id, eos_token_id=eos,
                       decoder_start_token_id=tok.pad_token_id, tie_word_embeddings=False)
    out = tmp_path_factory.mktemp("tiny-mt5")
    MT5ForConditionalGeneration(config).eval().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def literal_reference(model, tokenizer, prompt, text):
    """xg/eval/metric_perplexity.py's loop body, verbatim apart from names (one pair, unbatched)."""
    full_input_ids = tokenizer.encode(prompt + text, return_tensors="pt")
    full_loss = model(full_input_ids, labels=full_input_ids)[0] * (full_input_ids.shape[1] - 1)
    prompt_input_ids = tokenizer.encode(prompt, return_tensors="pt")
    prompt_loss = model(prompt_input_ids, labels=prompt_input_ids)[0] * (prompt_input_ids.shape[1] - 1)
    loss = (full_loss - prompt_loss) / (full_input_ids.shape[1] - prompt_input_ids.shape[1])
    return loss.item()


def test_reference_mode_formula_hand_checked(monkeypatch):
    # L(full) = 2.0 over n_full = 6 ids, L(prompt) = 1.5 over n_prompt = 3 ids:
    # loss = (2.0 * 5 - 1.5 * 2) / (6 - 3) = 7/3, ppl = exp(7/3) = 10.3123...
    monkeypatch.setattr(fluency, "seq2seq_self_losses",
                        lambda model, tok, texts, batch_size: {"ab": (1.5, 3), "abcd": (2.0, 6)})
    out = reference_perplexities(None, None, [{"prompt_id": "0", "sample": 0, "prompt": "ab", "text": "cd"}], 8, 1e4)
    assert out[0]["loss"] == pytest.approx(7 / 3)
    assert out[0]["ppl"] == pytest.approx(10.312258501325767)
    assert out[0]["n_tokens"] == 3 and out[0]["dropped"] is None


def test_reference_mode_uniform_evaluator_gives_vocabulary_size(tiny_mt5):
    # with all-zero output logits every token costs log V, so every L(x) = log V and ppl = V exactly
    model, tok = load_evaluator(str(tiny_mt5), "reference", "float32")
    with torch.no_grad():
        model.lm_head.weight.zero_()
    out = reference_perplexities(model, tok, [{"prompt_id": "0", "sample": 0, "prompt": "I hate", "text": " you"}],
                                 8, 1e4)
    assert out[0]["ppl"] == pytest.approx(model.config.vocab_size, rel=1e-4)


def test_reference_mode_matches_the_reference_loop(tiny_mt5):
    model, tok = load_evaluator(str(tiny_mt5), "reference", "float32")
    assert tok.encode("I hate")[-1] == tok.eos_token_id  # like mT5: EOS counted in n
    recs = records()
    out = reference_perplexities(model, tok, recs, batch_size=3, max_ppl=1e4)
    assert len(out) == len(recs)
    checked = 0
    with torch.no_grad():
        for r, o in zip(recs, out):
            if not r["text"].strip():
                assert o["ppl"] is None and o["dropped"] == "empty"
                continue
            expected = literal_reference(model, tok, r["prompt"], r["text"])
            assert o["loss"] == pytest.approx(expected, rel=1e-4, abs=1e-5)
            kept = np.exp(expected) < 1e4  # the reference's sanity filter
            assert (o["ppl"] is not None) == kept
            if kept:
                assert o["ppl"] == pytest.approx(np.exp(expected), rel=1e-4)
            checked += 1
    assert checked == 3 * 4


def test_reference_mode_needs_a_seq2seq_evaluator(tiny_model_dir):
    with pytest.raises(Exception, match="seq2seq"):
        load_evaluator(str(tiny_model_dir("gpt2")), "reference", "float32")


@pytest.mark.parametrize("batch_size", [2, 32])  # 2: one prompt's samples split over passes; 32: prompts left-padded together
@pytest.mark.parametrize("family", ["gpt2", "llama", "gemma", "bloom"])
def test_causal_mode_matches_full_sequence_log_probs(tiny_model_dir, family, batch_size):
    model, tok = load_evaluator(str(tiny_model_dir(family)), "causal", "float32")
    recs = records()
    out = causal_perplexities(model, tok, recs, batch_size=batch_size, max_ppl=1e4)
    checked = 0
    with torch.no_grad():
        for r, o in zip(recs, out):
            if not r["text"].strip():
                assert o["dropped"] == "empty"
                continue
            context, target = split_ids(tok, r["prompt"], r["text"])
            ids = torch.tensor([context + target])
            logp = torch.log_softmax(model(ids).logits.float(), -1)[0]
            k = len(context)
            total = sum(float(logp[k - 1 + j, t]) for j, t in enumerate(target))
            assert o["n_tokens"] == len(target)
            assert o["ppl"] == pytest.approx(math.exp(-total / len(target)), rel=1e-4)
            checked += 1
    assert checked == 3 * 4


def test_causal_scored_tokens_are_the_continuations(tiny_model_dir):
    tok = load_evaluator(str(tiny_model_dir("gpt2")), "causal", "float32")[1]
    context, target = split_ids(tok, "Thank you for the", " lovely dinner")
    assert context == tok("Thank you for the")["input_ids"]
    assert tok.decode(target) == " lovely dinner"


def test_max_ppl_filter_and_midpoint_summary():
    results = [{"prompt_id": str(i // 2), "sample": i % 2, "ppl": v, "dropped": None}
               for i, v in enumerate([1.0, 2.0, 3.0, 10.0])]
    results.append({"prompt_id": "9", "sample": 0, "ppl": None, "dropped": "ppl >= 10000"})
    s = summarize(results, n_boot=200, ci=0.95, seed=0)
    assert s["median"] == np.percentile([1, 2, 3, 10], 50, method="midpoint") == 2.5
    assert s["q1"] == 1.5 and s["q3"] == 6.5  # midpoint percentiles, as the reference
    assert s["n_kept"] == 4 and s["dropped"] == {"ppl >= 10000": 1}
    lo, hi = s["ci"]["median"]
    assert lo <= s["median"] <= hi
    r = {"prompt_id": "0", "sample": 0}
    fluency._finish(r, math.log(2e4), 1e4)
    assert r.get("ppl") is None and r["dropped"] == "ppl >= 10000"


def test_sample_subset_keeps_the_first_k_samples():
    recs = records()
    assert [r["sample"] for r in select_samples(recs, 2)] == [0, 1] * 3
    assert select_samples(recs, None) == recs
