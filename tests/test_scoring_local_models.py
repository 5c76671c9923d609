"""Local scorers: a tiny random BERT classifier saved to disk (no download), and Detoxify through a stand-in module."""

from __future__ import annotations

import sys
import types

import pytest

from xdetox.scoring.base import ScoringError
from xdetox.scoring.cache import CachedScorer, ScoreCache

pytestmark = pytest.mark.timeout(120)

TEXTS = ["I hate you so much", "Thank you for dinner", "", "Te odio, eres un idiota.", "我恨你", "ok"]


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    import torch
    import transformers as tf

    from tiny import train_tokenizer

    torch.manual_seed(0)
    tokenizer = train_tokenizer()
    config = tf.BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id, num_labels=2,
        id2label={0: "neutral", 1: "toxic"}, label2id={"neutral": 0, "toxic": 1},
    )
    model = tf.BertForSequenceClassification(config).eval()
    out = tmp_path_factory.mktemp("tiny-classifier")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_hf_classifier_scores_probabilities_independent_of_batching(tiny_classifier):
    from xdetox.scoring.hf_classifier import HFClassifierScorer

    one_by_one = HFClassifierScorer(str(tiny_classifier), batch_size=1, device="cpu").score(TEXTS, "en")
    batched = HFClassifierScorer(str(tiny_classifier), batch_size=4, device="cpu").score(TEXTS, "en")
    for a, b in zip(one_by_one, batched):
        assert 0.0 <= a.toxicity <= 1.0
        assert a.toxicity == pytest.approx(b.toxicity, abs=1e-5)
        assert a.attributes == {"TOXICITY": a.toxicity}
    assert len({round(s.toxicity, 6) for s in batched}) > 1  # a real model output, not a constant


def test_hf_classifier_toxic_label_by_name_or_index(tiny_classifier):
    from xdetox.scoring.hf_classifier import ClassifierLabelError, HFClassifierScorer

    by_name = HFClassifierScorer(str(tiny_classifier), toxic_label="toxic", device="cpu")
    by_index = HFClassifierScorer(str(tiny_classifier), toxic_label=1, device="cpu")
    neutral = HFClassifierScorer(str(tiny_classifier), toxic_label="neutral", device="cpu")
    assert by_name.toxic_index == by_index.toxic_index == 1
    for t, n in zip(by_name.score(TEXTS, "de"), neutral.score(TEXTS, "de")):
        assert t.toxicity + n.toxicity == pytest.approx(1.0, abs=1e-6)  # softmax over the two labels
    with pytest.raises(ClassifierLabelError, match=r"'hateful' is not a label .*0='neutral', 1='toxic'"):
        HFClassifierScorer(str(tiny_classifier), toxic_label="hateful")
    with pytest.raises(ClassifierLabelError, match="toxic_label: 7"):
        HFClassifierScorer(str(tiny_classifier), toxic_label=7)


def test_hf_classifier_version_and_cache(tiny_classifier, tmp_path):
    from xdetox.scoring.hf_classifier import HFClassifierScorer

    scorer = HFClassifierScorer(str(tiny_classifier), device="cpu")
    assert scorer.version.startswith(str(tiny_classifier)) and "weights:" in scorer.version
    assert scorer.version != HFClassifierScorer(str(tiny_classifier), toxic_label=0).version
    # everything that changes the probabilities is in the cache key: truncation and precision
    assert scorer.version != HFClassifierScorer(str(tiny_classifier), max_length=16).version
    half = HFClassifierScorer(str(tiny_classifier), dtype="bfloat16", device="cpu")
    assert half.version != scorer.version and half.version.endswith("dtype:bfloat16")
    assert all(0 <= s.toxicity <= 1 for s in half.score(TEXTS, "en"))
    with pytest.raises(ScoringError, match="scoring.hf_classifier.dtype: 'int4'"):
        HFClassifierScorer(str(tiny_classifier), dtype="int4")
    cached = CachedScorer(scorer, ScoreCache(tmp_path / "c.sqlite"))
    first = cached.score(TEXTS, "en")
    assert cached.score(TEXTS, "en") == first and cached.stats["hits"] == len(set(TEXTS))
    with pytest.raises(ScoringError, match="cannot load"):
        HFClassifierScorer(str(tmp_path / "no-such-model"))


class FakeDetoxify:
    """Stands in for detoxify.Detoxify: records the constructor call and every predict batch."""

    calls: list = []

    def __init__(self, **kwargs):
        FakeDetoxify.calls.append(("init", kwargs))

    def predict(self, texts):
        assert isinstance(texts, list)
        FakeDetoxify.calls.append(("predict", list(texts)))
        return {
            "toxicity": [len(t) / 100 for t in texts],
            "severe_toxicity": [len(t) / 1000 for t in texts],
            "identity_attack": [0.5 for _ in texts],
        }


@pytest.fixture
def fake_detoxify(monkeypatch):
    module = types.ModuleType("detoxify")
    module.Detoxify = FakeDetoxify
    module.MODEL_URLS = {"multilingual": "https://example.invalid/multilingual_debiased-0b549669.ckpt"}
    module.__version__ = "0.5.2"
    FakeDetoxify.calls = []
    monkeypatch.setitem(sys.modules, "detoxify", module)
    return FakeDetoxify


def test_detoxify_adapter_makes_the_exact_calls(fake_detoxify, tmp_path):
    from xdetox.scoring.detoxify_scorer import DetoxifyScorer

    checkpoint = tmp_path / "multilingual.ckpt"
    checkpoint.write_bytes(b"stand-in checkpoint")
    scorer = DetoxifyScorer(str(checkpoint), batch_size=2, device="cpu")
    texts = ["abc", "", "abcdef", "a", "ab"]
    scores = scorer.score(texts, "fr")
    assert fake_detoxify.calls == [
        ("init", {"model_type": "multilingual", "device": "cpu", "checkpoint": str(checkpoint)}),
        ("predict", ["abc", ""]), ("predict", ["abcdef", "a"]), ("predict", ["ab"]),
    ]
    assert [s.toxicity for s in scores] == [0.03, 0.0, 0.06, 0.01, 0.02]
    assert scores[0].attributes == {"TOXICITY": 0.03, "SEVERE_TOXICITY": 0.003, "IDENTITY_ATTACK": 0.5}
    assert scorer.version.startswith("detoxify==0.5.2|multilingual|ckpt:")
    checkpoint.write_bytes(b"another checkpoint")
    assert DetoxifyScorer(str(checkpoint)).version != scorer.version
    scorer.score(["x"], "fr")
    assert [c[0] for c in fake_detoxify.calls].count("init") == 1  # the model is loaded once


def test_detoxify_offline_config_path_and_release_version(fake_detoxify):
    from xdetox.scoring.detoxify_scorer import DetoxifyScorer

    scorer = DetoxifyScorer(None, device="cpu", huggingface_config_path="/models/xlm-roberta-base")
    scorer.score(["x"], "en")
    assert fake_detoxify.calls[0] == ("init", {"model_type": "multilingual", "device": "cpu",
                                               "huggingface_config_path": "/models/xlm-roberta-base"})
    assert scorer.version.endswith("release:multilingual_debiased-0b549669.ckpt")


def test_detoxify_missing_package_or_checkpoint_is_a_clear_error(monkeypatch, tmp_path, fake_detoxify):
    from xdetox.scoring.detoxify_scorer import DetoxifyScorer

    with pytest.raises(ScoringError, match="no-such.ckpt: file not found"):
        DetoxifyScorer(str(tmp_path / "no-such.ckpt"))
    monkeypatch.setitem(sys.modules, "detoxify", None)  # import detoxify → ImportError
    with pytest.raises(ScoringError, match=r"pip install 'xdetox\[detoxify\]'"):
        DetoxifyScorer(str(tmp_path / "x.ckpt"))
