"""Dist-1/2/3 as the reference defines them: distinct n-grams over total unigram tokens, per prompt, mean over prompts."""

from __future__ import annotations

import pytest

from xdetox.metrics.diversity import PieceDecoder, distinct_n, diversity_metrics, per_prompt_diversity


class WordTokenizer:
    """Whitespace 'tokenizer' that, like mT5's, appends a special EOS (id 0) which decodes to '' when skipped."""

    def __init__(self):
        self.vocab = {"</s>": 0}

    def __call__(self, text):
        ids = [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]
        return {"input_ids": ids + [0]}

    def decode(self, i, skip_special_tokens=False):
        if i == 0:
            return "" if skip_special_tokens else "</s>"
        return {v: k for k, v in self.vocab.items()}[i]


def gens(prompt_id, texts):
    return [{"prompt_id": prompt_id, "sample": s, "text": t} for s, t in enumerate(texts)]


def test_hand_computed_values():
    # prompt 0: tokens [a b a] [a b c] -> 6 tokens; unigrams {a,b,c}=3, bigrams {a_b,b_a,b_c}=3, trigrams {a_b_a,a_b_c}=2
    d1, d2, d3 = distinct_n([["a", "b", "a"], ["a", "b", "c"]])
    assert (d1, d2, d3) == (3 / 6, 3 / 6, 2 / 6)
    # the same denominator (total unigram tokens) for every n; n-grams do not cross generations
    assert distinct_n([["a"], ["b"]]) == (1.0, 0.0, 0.0)


def test_per_prompt_then_mean_over_prompts_empty_generations_dropped():
    records = gens("p0", ["a b a", "", "a b c"]) + gens("p1", ["x y"]) + gens("p2", ["", ""])
    per_prompt = per_prompt_diversity(records, WordTokenizer())
    assert list(per_prompt) == ["p0", "p1"]  # p2 has only empty generations: skipped, as in the reference
    assert per_prompt["p0"] == (0.5, 0.5, 2 / 6)
    assert per_prompt["p1"] == (1.0, 0.5, 0.0)
    result = diversity_metrics(records, WordTokenizer(), n_boot=100, ci=0.95, seed=0)
    assert result["dist1"] == pytest.approx(0.75)
    assert result["dist2"] == pytest.approx(0.5)
    assert result["dist3"] == pytest.approx(1 / 6)
    assert result["n_prompts"] == 3 and result["n_prompts_used"] == 2
    for key in ("dist1", "dist2", "dist3"):
        lo, hi = result["ci"][key]
        assert lo <= result[key] <= hi


def test_ngrams_are_keyed_by_decoded_pieces_joined_with_underscore():
    # the reference joins decoded pieces with "_": ("a_", "b") and ("a", "_b") collide, and we keep that quirk
    assert distinct_n([["a_", "b"], ["a", "_b"]])[1] == 1 / 4


def test_special_tokens_are_not_counted(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir("gpt2"))
    decoder = PieceDecoder(tok)
    text = "I hate you so much"
    pieces = decoder.pieces(text + tok.eos_token)
    assert "".join(pieces) == text  # EOS decodes to '' and is dropped
    assert len(pieces) == len(tok(text)["input_ids"])
