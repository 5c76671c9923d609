"""The learned scorer on tiny random models: features, heads, cross-fitting by prompt Index, artifact, cache."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xdetox import XdetoxError
from xdetox.scoring.base import Score, Scorer, ScoringError, score_records
from xdetox.scoring.learned import encoder as encoder_mod
from xdetox.scoring.learned import heads as heads_mod
from xdetox.scoring.learned import model as model_mod
from xdetox.scoring.learned.encoder import Encoder, FeatureSpec, checkpoint_fingerprint
from xdetox.scoring.learned.heads import HeadSpec, fit_head
from xdetox.scoring.learned.model import Example, fit_crossfitted, fold_of, load
from xdetox.scoring.learned.scorer import LearnedScorer
from xdetox.scoring.learned.training import jigsaw_examples, rtplx_examples, train

pytestmark = pytest.mark.timeout(300)

WORDS = ["idiot", "hate", "stupid", "thanks", "lovely", "weather", "dinner", "kill", "nice", "sunny"]


def _examples(n_prompts=24, langs=("en", "de")) -> list[Example]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n_prompts):
        toxic = i % 2 == 0
        words = rng.choice(WORDS[:3] if toxic else WORDS[3:7], 3)
        for lang in langs:
            out.append(Example(f"{lang} {' '.join(words)} {i}", lang, str(i), rating=4.0 if toxic else 1.33,
                               source="rtplx"))
    return out


# --- encoder -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["gemma", "gpt2"])
def test_truncated_encoder_matches_the_full_model(tiny_model_dir, family):
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = tiny_model_dir(family)
    texts = ["I hate you, idiot.", "Thank you for the lovely dinner, it was a wonderful evening.", ""]
    enc = Encoder(path, FeatureSpec(layers=(1,), pooling="mean"), batch_tokens=16)
    x = enc.features(texts)
    assert x.shape == (3, enc.dim) and enc._model.config.num_hidden_layers == 1  # the second block is never built
    full = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    special = set(tok.all_special_ids)
    assert np.isfinite(x[2]).all()  # an empty continuation still gets features
    for text, row in zip(texts[:2], x):
        ids = tok(text)["input_ids"]
        with torch.no_grad():
            h = full(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[1][0]
        keep = [i for i, t in enumerate(ids) if t not in special] or list(range(len(ids)))
        np.testing.assert_allclose(row, h[keep].mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_poolings_layers_and_batch_invariance(tiny_model_dir):
    path = tiny_model_dir("gemma")
    texts = ["you idiot", "a lovely sunny dinner with friends and family", "hate"]
    alone = np.stack([Encoder(path, FeatureSpec(layers=(0, 2), pooling="mean+max")).features([t])[0] for t in texts])
    together = Encoder(path, FeatureSpec(layers=(0, 2), pooling="mean+max"), batch_tokens=64).features(texts)
    d = 32  # tiny hidden size
    assert together.shape == (3, 4 * d)
    np.testing.assert_allclose(alone, together, rtol=1e-4, atol=1e-5)  # padding never leaks into a text's features
    last = Encoder(path, FeatureSpec(layers=(2,), pooling="last")).features(texts)
    assert last.shape == (3, d) and not np.allclose(last, together[:, 2 * d: 3 * d])
    mean2 = Encoder(path, FeatureSpec(layers=(2,))).features(texts)
    int8 = Encoder(path, FeatureSpec(layers=(2,), precision="int8")).features(texts)
    assert not np.array_equal(int8, mean2) and np.corrcoef(int8.ravel(), mean2.ravel())[0, 1] > 0.98


def test_bad_encoder_settings_are_clear_errors(tiny_model_dir, tmp_path):
    with pytest.raises(ScoringError, match=f"{tmp_path / 'nope'} does not exist"):
        Encoder(tmp_path / "nope", FeatureSpec())
    with pytest.raises(ScoringError, match="layer 5 requested but .* has 2 layers"):
        Encoder(tiny_model_dir("gpt2"), FeatureSpec(layers=(5,))).features(["x"])
    with pytest.raises(ScoringError, match="unknown pooling 'median'"):
        FeatureSpec(pooling="median")
    with pytest.raises(ScoringError, match="unknown head 'forest'"):
        HeadSpec(kind="forest")


# --- heads -------------------------------------------------------------------------------------------------------

def test_ridge_and_logistic_heads_learn_a_planted_direction():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 8)) * rng.uniform(0.1, 10, 8)  # unequal scales: the head standardises
    rating = np.clip(3 + 1.5 * x[:, 2] / x[:, 2].std() + 0.3 * rng.normal(size=400), 1, 5)
    ridge = fit_head(x, rating, HeadSpec("ridge", l2=1.0))
    assert np.corrcoef(ridge.decision(x), rating)[0, 1] > 0.95
    assert np.argmax(np.abs(ridge.weight)) == 2
    p = ridge.predict(x)
    assert p.min() >= 0 and p.max() <= 1 and np.mean((p >= 0.5) == (rating >= 3)) > 0.9
    logistic = fit_head(x, rating, HeadSpec("logistic", l2=1.0))
    q = logistic.predict(x)
    assert np.argmax(np.abs(logistic.weight)) == 2 and np.mean((q >= 0.5) == (rating >= 3)) > 0.9
    with pytest.raises(ScoringError, match="toxic and non-toxic"):
        fit_head(x, np.ones(400), HeadSpec("logistic"))


def test_examples_weights_and_binary_labels():
    ex = [Example("a", "en", label=True, source="jigsaw"), Example("b", "en", label=False, source="jigsaw"),
          Example("c", "de", "7", rating=2.33)]
    spec = HeadSpec("ridge", binary_rating=4.5)
    assert [e.target(spec) for e in ex] == [4.5, 1.0, 2.33]


# --- cross-fitting -----------------------------------------------------------------------------------------------

def test_folds_are_stable_hashes_of_the_prompt_id():
    folds = [fold_of(str(i), 5) for i in range(2000)]
    assert folds == [fold_of(str(i), 5) for i in range(2000)]
    assert set(folds) == set(range(5)) and min(np.bincount(folds)) > 300
    assert folds != [fold_of(str(i), 5, seed=1) for i in range(2000)]


def test_no_head_scores_a_text_whose_prompt_it_trained_on(tiny_model_dir, tmp_path, monkeypatch):
    """Instrument the heads: record every example each head is fitted on and every text each head scores."""
    path = tiny_model_dir("gemma")
    examples = _examples(30, ("en", "de", "hi")) + [Example("you stupid idiot", "en", None, label=True,
                                                            source="jigsaw")]
    fitted: list[np.ndarray] = []  # feature rows of each head's training set, in head order
    real_fit = model_mod.fit_head
    monkeypatch.setattr(model_mod, "fit_head", lambda x, *a, **k: fitted.append(np.array(x)) or real_fit(x, *a, **k))
    captured = {}
    real_features = Encoder.features

    def features(self, texts):
        out = real_features(self, texts)
        captured.setdefault("all", []).append((list(texts), out))
        return out

    monkeypatch.setattr(Encoder, "features", features)
    model = train(path, examples, FeatureSpec(layers=(1,)), HeadSpec("ridge", l2=10.0), folds=4,
                  out_dir=tmp_path / "heads")
    assert len(fitted) == 4 and len(model.heads) == 4
    train_texts, train_x = captured["all"][0]
    row_of = {train_x[i].tobytes(): i for i in range(len(train_x))}
    trained_ids = [{examples[row_of[r.tobytes()]].prompt_id for r in x} - {None} for x in fitted]
    assert all(len(ids) > 0 for ids in trained_ids)
    assert all(any(examples[row_of[r.tobytes()]].prompt_id is None for r in x) for x in fitted)  # Jigsaw in all

    scored: dict[int, list[str]] = {}
    real_predict = heads_mod.Head.predict

    def predict(self, x):
        k = next(i for i, h in enumerate(scorer.model.heads) if h is self)
        texts_in, x_in = captured["all"][-1]  # the encoder pass these rows come from
        row_of = {x_in[i].tobytes(): i for i in range(len(x_in))}
        scored.setdefault(k, []).extend(texts_in[row_of[r.tobytes()]] for r in np.asarray(x))
        return real_predict(self, x)

    monkeypatch.setattr(heads_mod.Head, "predict", predict)
    scorer = LearnedScorer(tmp_path / "heads", path)
    pid_of = {}
    texts, pids = [], []
    for e in examples:
        if e.prompt_id is None:
            continue
        for t in (e.text, f"{e.text} and then some continuation", f"continuation of {e.prompt_id}"):
            texts.append(t)
            pids.append(e.prompt_id)
            pid_of[t] = e.prompt_id
    for lang in ("en", "hi", "ko"):
        scores = scorer.score_prompts(texts, lang, pids)
        assert len(scores) == len(texts) and all(0 <= s.toxicity <= 1 for s in scores)
    assert set(scored) == {0, 1, 2, 3}
    for k, head_texts in scored.items():
        leaked = {pid_of[t] for t in head_texts} & trained_ids[k]
        assert not leaked, f"head {k} scored texts of prompts it was trained on: {sorted(leaked)}"
    # the out-of-fold scores in the artifact come from the same routing
    for rec in model.oof:
        assert rec["fold"] == fold_of(rec["prompt_id"], 4) and rec["prompt_id"] not in trained_ids[rec["fold"]]


def test_crossfitted_oof_scores_learn_across_languages(tiny_model_dir):
    rng = np.random.default_rng(2)
    examples = _examples(60, ("en", "de"))
    x = rng.normal(size=(len(examples), 6))
    x[:, 0] += np.array([3.0 if e.rating > 3 else 0.0 for e in examples])
    heads, trained, oof, fold = fit_crossfitted(x, examples, HeadSpec("ridge", l2=1.0), folds=5)
    assert len(heads) == 5 and not np.isnan(oof).any()
    toxic = np.array([e.rating > 3 for e in examples])
    assert oof[toxic].mean() > oof[~toxic].mean() + 0.2
    for k, ids in enumerate(trained):
        assert all(fold_of(i, 5) != k for i in ids)
    single, _, oof1, _ = fit_crossfitted(x, examples, HeadSpec("ridge"), folds=0)
    assert len(single) == 1 and np.isnan(oof1).all()


# --- artifact, scorer, cache -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("learned") / "heads"
    path = tiny_model_dir("gemma")
    model = train(path, _examples(20), FeatureSpec(layers=(1, 2), pooling="mean"), HeadSpec("ridge", l2=10.0),
                  folds=3, out_dir=out)
    return path, out, model


def test_artifact_round_trip_and_tampering(trained, tmp_path):
    path, out, model = trained
    meta = json.loads((out / "model.json").read_text())
    assert meta["encoder"]["fingerprint"] == checkpoint_fingerprint(path)
    assert meta["features"] == {"layers": [1, 2], "pooling": "mean", "max_length": 128, "precision": "float32"}
    assert meta["training"]["examples"] == {"rtplx:de": 20, "rtplx:en": 20} and meta["folds"] == 3
    again = load(out)
    x = np.random.default_rng(0).normal(size=(4, len(model.heads[0].mean)))
    for a, b in zip(model.heads, again.heads):
        np.testing.assert_allclose(a.predict(x), b.predict(x))
    assert again.trained_ids == model.trained_ids and len(again.oof) == 40
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    with np.load(bad / "heads.npz") as arrays:
        changed = {k: arrays[k] + (1 if k == "bias_0" else 0) for k in arrays.files}
    np.savez(bad / "heads.npz", **changed)
    with pytest.raises(ScoringError, match="heads.npz: missing or does not match the sha256"):
        load(bad)


def test_heads_for_another_encoder_or_settings_are_refused(trained, tiny_model_dir):
    path, out, _ = trained
    with pytest.raises(ScoringError, match=r"model.json: these heads were trained for another encoder"):
        LearnedScorer(out, tiny_model_dir("gpt2"))
    with pytest.raises(ScoringError, match=r"model.json: .*other settings than configured \(layers: trained with "
                                           r"\[1, 2\], configured \[8\]"):
        LearnedScorer(out, path, configured={"layers": [8], "pooling": "mean"})
    with pytest.raises(ScoringError, match="no trained heads at"):
        LearnedScorer(out.parent / "missing", path)
    assert LearnedScorer(out, path, configured={"layers": (1, 2), "folds": 3, "head": "ridge"}).model.folds == 3


def test_scorer_routes_by_prompt_and_caches_per_fold(trained, tmp_path):
    from xdetox.scoring.cache import ScoreCache

    path, out, model = trained
    scorer = LearnedScorer(out, path, cache=ScoreCache(tmp_path / "c.sqlite"))
    with pytest.raises(ScoringError, match="cross-fitted by prompt Index"):
        scorer.score(["x"], "en")
    with pytest.raises(ScoringError, match="none was given"):
        scorer.score_prompts(["x"], "en", [None])
    texts = ["you idiot", "lovely dinner", "you idiot"]
    pids = ["0", "1", "2"]
    first = scorer.score_prompts(texts, "en", pids)
    assert scorer.stats["misses"] == 3 and scorer.stats["hits"] == 0
    # the same text under prompts of different folds is a different question (its own cache entry)
    assert fold_of("0", 3) != fold_of("1", 3)
    stored = scorer.stats["stored"]
    scorer.score_prompts(["same text", "same text"], "en", ["0", "1"])
    assert scorer.stats["stored"] == stored + 2
    hits = scorer.stats["hits"]
    again = scorer.score_prompts(texts, "en", pids)
    assert again == first and scorer.stats["hits"] == hits + 3
    versions = {f.version for f in scorer.folds}
    assert len(versions) == 3 and all(model.digest[:16] in v for v in versions)
    # seeding with the out-of-fold scores makes validating the training prompts free, and they agree
    assert scorer.seed_cache() == 40
    oof = [r for r in model.oof if r["lang"] == "de"]
    before = scorer.stats["misses"]
    got = scorer.score_prompts([r["text"] for r in oof], "de", [r["prompt_id"] for r in oof])
    assert scorer.stats["misses"] == before
    fresh = LearnedScorer(out, path).score_prompts([r["text"] for r in oof], "de", [r["prompt_id"] for r in oof])
    np.testing.assert_allclose([s.toxicity for s in got], [s.toxicity for s in fresh], atol=1e-5)
    scorer.close()


def test_single_head_scores_without_prompt_ids(tiny_model_dir, tmp_path):
    path = tiny_model_dir("gpt2")
    ex = [Example(t, "en", None, label=i % 2 == 0, source="jigsaw") for i, t in enumerate(["idiot", "nice", "hate",
                                                                                           "sunny"] * 3)]
    train(path, ex, FeatureSpec(layers=(2,)), HeadSpec("logistic", l2=1.0), folds=5, out_dir=tmp_path / "h")
    scorer = LearnedScorer(tmp_path / "h", path)
    # no prompt-labelled examples: one head, whatever the configured folds, and no prompt ids needed
    assert len(scorer.model.heads) == 1 and scorer.model.folds == 5
    assert len(scorer.score(["idiot", "nice"], "de")) == 2


def test_score_records_hands_the_prompt_ids_over():
    class Routing(Scorer):
        id, version = "routing", "1"

        def score(self, texts, lang):
            raise AssertionError("score_prompts expected")

        def score_prompts(self, texts, lang, prompt_ids):
            return [Score(toxicity=float(int(p) % 2)) for p in prompt_ids]

    gens = [{"prompt_id": 3, "lang": "en", "sample": 0, "text": "a"},
            {"prompt_id": 4, "lang": "de", "sample": 0, "text": "b"}]
    assert [r["toxicity"] for r in score_records(gens, Routing())] == [1.0, 0.0]


def test_training_data_readers(tmp_path, shared_data):
    from xdetox.data.prompts import load_rtplx_annotations

    files = {"en": shared_data / "rtp-lx/v0.2_raw/RTP_LX_EN.json", "hi": shared_data / "rtp-lx/v0.2_raw/RTP_LX_HI.json"}
    ex = rtplx_examples(files, max_per_lang=5, selection="first")
    assert len(ex) == 10 and ex[0].prompt_id == "0" and ex[0].rating == 5.0 and ex[5].lang == "hi"
    mean = rtplx_examples(files, max_per_lang=5, selection="first", target="index_mean")
    en0 = [r for r in load_rtplx_annotations(files["hi"], "hi") if r["id"] == "0"][0]["toxicity_mean"]
    assert mean[0].rating == pytest.approx((5.0 + en0) / 2) and mean[0].human == 5.0 and mean[5].rating == mean[0].rating
    with pytest.raises(ScoringError, match="unknown RTP-LX target"):
        rtplx_examples(files, 5, target="vibes")
    rnd = rtplx_examples(files, max_per_lang=300)  # seeded random: reaches the benign part of the file
    assert rnd == rtplx_examples(files, max_per_lang=300) and max(int(e.prompt_id) for e in rnd) > 700
    jig = jigsaw_examples(shared_data / "jigsaw-subsets/robtest_jigsaw_balanced_12180.csv", 100)
    assert len(jig) == 100 and 30 < sum(e.label for e in jig) < 70 and all(e.prompt_id is None for e in jig)
    ann = load_rtplx_annotations(files["en"], "en")
    assert ann[0] == {"id": "0", "lang": "en", "text": ann[0]["text"], "toxicity_mean": 5.0, "raters": [5.0, 5.0, 5.0]}
    rtp = tmp_path / "RTP_LX_EN.json"
    good = {"Prompt": "hi", "Index": 1, "Annotations": {"Toxicity": 2.0}, "AnnotationsRaw": {"Toxicity": [1, 2, 3]}}
    for broken, message in [({"Annotations": {}}, "no 'Annotations.Toxicity'"),
                            ({"Annotations": {"Toxicity": 7}}, r"expected a number in \[1, 5\]"),
                            ({"AnnotationsRaw": {"Toxicity": [1, 1, 1]}}, "not the mean of the raters")]:
        rtp.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "Index": 2, **broken}) + "\n", encoding="utf-8")
        with pytest.raises(XdetoxError, match=f"RTP_LX_EN.json:3: .*{message}"):
            load_rtplx_annotations(rtp, "en")
    bad = tmp_path / "j.csv"
    bad.write_text('"ok",1\n"bad",maybe\n', encoding="utf-8")
    with pytest.raises(ScoringError, match=r"j.csv:2: expected 2 columns"):
        jigsaw_examples(bad)


def test_registry_builds_the_learned_scorer(trained, tmp_path):
    from xdetox.scoring.registry import make_scorer, open_cached_scorer

    path, out, _ = trained
    with pytest.raises(ScoringError, match="scoring.learned.heads: required"):
        make_scorer("learned", {"encoder": str(path)})
    cfg = {"heads": str(out), "encoder": str(path), "layers": [1, 2]}
    cache = tmp_path / "s.sqlite"
    assert isinstance(make_scorer("learned", cfg), LearnedScorer)
    scorer = open_cached_scorer("learned", cfg, cache)
    scorer.score_prompts(["x"], "en", ["5"])
    assert scorer.stats["stored"] == 1
    scorer.close()
    with pytest.raises(ScoringError, match="configured 'max'"):
        open_cached_scorer("learned", {**cfg, "pooling": "max"}, cache)


def test_oof_records_keep_the_texts_own_human_rating():
    from xdetox.scoring.learned.scorer import oof_records

    ex = [Example("a", "id", "3", rating=3.5, human=2.0), Example("b", "en", "4", rating=1.0),
          Example("c", "en", None, label=True)]
    recs = oof_records(ex, np.array([0.4, 0.1, np.nan]), np.array([2, 0, -1]))
    assert [(r["prompt_id"], r["rating"], r["fold"]) for r in recs] == [("3", 2.0, 2), ("4", 1.0, 0)]
