"""The toxicity probe: AUC, data loading, pooled features, training on a planted signal, the step end to end."""

from __future__ import annotations

import json

import pytest
import torch

from xdetox import XdetoxError
from helpers import config
from xdetox.data.probe import load_labelled_csv
from xdetox.interp.probe import pooled_features, train_probe
from xdetox.stats import roc_auc
from xdetox.steps.interpret import interp_probe, load_probe


def test_roc_auc_known_values():
    # labels first, as sklearn's roc_auc_score(y_true, y_score)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # one of four positive/negative pairs misordered
    assert roc_auc([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9]) == 0.75
    assert roc_auc([1, 1], [0.1, 0.2]) != roc_auc([1, 1], [0.1, 0.2])  # NaN with a single class


@pytest.mark.parametrize("init", ["default", "zeros"])
def test_probe_learns_a_planted_separable_signal(init):
    gen = torch.Generator().manual_seed(0)
    n, d = 400, 32
    direction = torch.randn(d, generator=gen)
    direction /= direction.norm()
    labels = (torch.rand(n, generator=gen) < 0.5).long()
    x = torch.randn(n, d, generator=gen) + (labels.float() * 2 - 1).unsqueeze(1) * 3 * direction
    result = train_probe(x, labels.tolist(), learning_rate=1e-2, batch_size=10, epochs=5, val_fraction=0.1, seed=1,
                         init=init)
    assert result.val_accuracy >= 0.95 and result.val_auc >= 0.98
    assert result.n_train == 360 and result.n_val == 40
    assert len(result.history) == 5 and 1 <= result.best_epoch <= 5
    best = min(result.history, key=lambda h: h["val_loss"])
    assert best["epoch"] == result.best_epoch and best["val_loss"] == pytest.approx(result.val_loss)
    cos = torch.nn.functional.cosine_similarity(result.weight, direction, dim=0)
    assert cos > 0.8


def test_load_labelled_csv_skips_a_header_samples_and_reports_bad_labels(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text('comment_text,label\n"hello, you",0\nyou idiot,1\n"a ""quoted"" text",0\nbad person,1\n')
    rows = load_labelled_csv(good, None, 0)
    assert rows == [("hello, you", 0), ("you idiot", 1), ('a "quoted" text', 0), ("bad person", 1)]
    sample = load_labelled_csv(good, max_rows=2, seed=3)
    assert len(sample) == 2 and set(sample) <= set(rows)
    assert sample == load_labelled_csv(good, max_rows=2, seed=3)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,0\nb,yes\n")
    with pytest.raises(XdetoxError, match=r"bad.csv:2: label 'yes'"):
        load_labelled_csv(bad, None, 0)
    with pytest.raises(XdetoxError, match="not found"):
        load_labelled_csv(tmp_path / "missing.csv", None, 0)


@pytest.mark.parametrize("family", ["gpt2", "gemma"])
def test_pooled_features_ignore_padding_and_use_the_final_normed_state(tiny_model_dir, family):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_model_dir(family)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    texts = ["I hate you", "Thank you for the lovely dinner, it was a wonderful evening."]
    together = pooled_features(model, tok, texts, max_tokens=64, batch_size=2)
    alone = pooled_features(model, tok, texts[:1], max_tokens=64, batch_size=1)
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=1e-4)
    ids = tok(texts[0], return_tensors="pt").input_ids
    with torch.no_grad():
        last = model.base_model(input_ids=ids).last_hidden_state  # after the final norm
    torch.testing.assert_close(alone[0], last[0].mean(0), atol=1e-5, rtol=1e-4)
    truncated = pooled_features(model, tok, texts[1:], max_tokens=3, batch_size=1)
    assert not torch.allclose(truncated[0], together[1])


def test_probe_step_writes_weight_metrics_and_history(tiny_model_dir, tmp_path):
    data = tmp_path / "probe.csv"
    toxic = ["I hate you, you idiot", "you are an idiot", "I will hurt you", "Te odio, idiota"]
    kind = ["Thank you for dinner", "The weather is sunny", "a wonderful evening", "Merci pour le dîner"]
    data.write_text("".join(f"{t},1\n" for t in toxic * 3) + "".join(f"{t},0\n" for t in kind * 3))
    cfg = config(interpret={"probe": {"path": str(data), "max_rows": 20, "max_tokens": 16, "learning_rate": 1e-3,
                                      "epochs": 3, "val_fraction": 0.2, "seed": 0, "init": "default",
                                      "feature_batch_size": 8}})["interpret"]["probe"]
    out = tmp_path / "out"
    metrics = interp_probe(str(tiny_model_dir("llama")), str(data), str(out / "probe.pt"), str(out / "metrics.json"),
                           str(out / "history.csv"), cfg, {"dtype": "float32", "family": "llama", "label": "Tiny"})
    assert load_probe(out / "probe.pt").shape == (32,)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == metrics and saved["n_rows"] == 20 and saved["n_train"] + saved["n_val"] == 20
    assert 0 <= saved["val_accuracy"] <= 1
    assert (out / "history.csv").read_text().count("\n") == 1 + 3


def test_jigsaw_train_reads_kaggles_train_csv(tmp_path):
    from xdetox.data.probe import load_probe_rows, read_jigsaw_train

    path = tmp_path / "train.csv"
    path.write_text('"id","comment_text","toxic","severe_toxic","obscene","threat","insult","identity_hate"\n'
                    '"a1","fine, ""quoted""\nover two lines",0,0,0,0,0,0\n'
                    '"a2","you are awful",1,0,1,0,1,0\n', encoding="utf-8")
    assert read_jigsaw_train(path) == [('fine, "quoted"\nover two lines', 0), ("you are awful", 1)]
    assert load_probe_rows(path, "jigsaw-train") == read_jigsaw_train(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nx,1\n", encoding="utf-8")
    with pytest.raises(XdetoxError, match=r"bad.csv:1: header lacks comment_text, toxic"):
        read_jigsaw_train(bad)
    bad.write_text('id,comment_text,toxic\n1,"a\nb",0\n2,c,yes\n', encoding="utf-8")
    with pytest.raises(XdetoxError, match=r"bad.csv:4: toxic 'yes'"):
        read_jigsaw_train(bad)
