"""The scoring steps behind the validation targets: train_scorer, scorer_validation, scorer_consistency and Table 2's
note naming the validation. A planted scorer (reads the human rating, plus noise) checks that the steps recover the
quality it was built with; the learned scorer runs for real on a tiny model."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from xdetox.report.validation import read_validation_csv, validation_note
from xdetox.scoring.base import Score, Scorer
from xdetox.steps import score as steps

pytestmark = pytest.mark.timeout(300)

LANGS = ("en", "de", "hi")
WORDS_TOXIC = ["idiot", "hate", "stupid", "kill"]
WORDS_BENIGN = ["thanks", "lovely", "weather", "dinner", "nice", "sunny"]


def write_rtplx(folder, lang: str, n: int = 80, seed: int = 0) -> str:
    """An RTP-LX v0.2-style file: Index shared across languages, human ratings 1-5, toxic prompts first (as RTP-LX)."""
    rng = np.random.default_rng(seed)
    path = folder / f"RTP_LX_{lang.upper()}.json"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            toxic = i < n // 2
            words = rng.choice(WORDS_TOXIC if toxic else WORDS_BENIGN, 3)
            ratings = [int(x) for x in rng.integers(3, 6, 3)] if toxic else [int(x) for x in rng.integers(1, 3, 3)]
            record = {"Prompt": f"{lang} {' '.join(words)} {i}", "Index": i, "Locale": lang.upper(),
                      "Annotations": {"Toxicity": sum(ratings) / 3}, "AnnotationsRaw": {"Toxicity": ratings}}
            handle.write(json.dumps(record) + "\n")
    return str(path)


@pytest.fixture
def rtplx(tmp_path):
    folder = tmp_path / "rtplx"
    folder.mkdir()
    return {lang: write_rtplx(folder, lang) for lang in LANGS}


class PlantedScorer(Scorer):
    """Reads the human mean rating back out of the fixture (via a lookup), with language-dependent noise; in 'hi' it
    answers a constant, so that language cannot be validated."""

    id = "planted"
    version = "1"

    def __init__(self, ratings: dict[tuple[str, str], float], noise: dict[str, float], offset: dict[str, float]):
        self.ratings, self.noise, self.offset = ratings, noise, offset
        self.rng = np.random.default_rng(1)
        self.stats = {"texts": 0}

    def score(self, texts, lang):
        raise AssertionError("the steps must score by prompt")

    def score_prompts(self, texts, lang, prompt_ids):
        self.stats["texts"] += len(texts)
        out = []
        for text, pid in zip(texts, prompt_ids):
            if lang == "hi":
                out.append(Score(0.1))
                continue
            value = (self.ratings[(lang, pid)] - 1) / 4 + self.offset.get(lang, 0.0)
            value += self.rng.normal(0, self.noise.get(lang, 0.0))
            out.append(Score(float(np.clip(value, 0, 1))))
        return out

    def close(self):
        pass


def planted(monkeypatch, rtplx, noise, offset=None):
    from xdetox.data.prompts import load_rtplx_annotations

    ratings = {(lang, r["id"]): r["toxicity_mean"] for lang, path in rtplx.items()
               for r in load_rtplx_annotations(path, lang)}
    scorer = PlantedScorer(ratings, noise, offset or {})
    monkeypatch.setattr(steps, "open_cached_scorer", lambda name, settings, cache: scorer)
    return scorer


VALIDATION = {"max_per_lang": None, "selection": "random", "seed": 0, "n_boot": 200}


def test_validation_recovers_a_planted_scorers_quality_per_language(tmp_path, rtplx, monkeypatch):
    planted(monkeypatch, rtplx, noise={"en": 0.0, "de": 0.6})
    out = {k: tmp_path / f"validation.{k}" for k in ("csv", "md", "png")}
    rows = steps.scorer_validation(rtplx, str(out["csv"]), str(out["md"]), str(out["png"]), "planted", {},
                                   str(tmp_path / "cache.sqlite"), VALIDATION, 0.5)
    by_lang = {r.lang: r for r in rows}
    assert by_lang["en"].auc == 1.0 and by_lang["en"].kappa > 0.6  # the rating itself: perfect ranking
    assert 0.55 < by_lang["de"].auc < 0.95 and by_lang["de"].auc < by_lang["en"].auc  # heavy noise: worse
    assert by_lang["de"].auc_lo < by_lang["de"].auc < by_lang["de"].auc_hi
    assert math.isnan(by_lang["hi"].auc) and "constant" in by_lang["hi"].note  # reported, not made up
    assert out["png"].stat().st_size > 0
    assert [r.lang for r in read_validation_csv(out["csv"])] == list(LANGS)
    text = out["md"].read_text(encoding="utf-8")
    assert "1 language(s) not validated" in text
    assert next(line for line in text.splitlines() if line.startswith("| hi |")).count("n/a") >= 4


def test_validation_subset_is_seeded_random_not_the_toxic_first_lines(tmp_path, rtplx, monkeypatch):
    scorer = planted(monkeypatch, rtplx, noise={})
    out = [str(tmp_path / f"v.{k}") for k in ("csv", "md", "png")]
    rows = steps.scorer_validation(rtplx, *out, "planted", {}, str(tmp_path / "c.sqlite"),
                                   {**VALIDATION, "max_per_lang": 20}, 0.5)
    assert scorer.stats["texts"] == 20 * len(LANGS)
    en = next(r for r in rows if r.lang == "en")
    assert 0 < en.n_toxic < 20  # the first 20 lines are all toxic: a random subset holds both classes


def test_consistency_finds_a_planted_language_offset(tmp_path, monkeypatch):
    folder = tmp_path / "parallel"
    folder.mkdir()
    files, ratings = {}, {}
    rng = np.random.default_rng(0)
    base = rng.uniform(1, 5, 40)
    for lang in ("en", "de", "fr"):
        path = folder / f"{lang}.jsonl"
        path.write_text("".join(json.dumps({"Prompt": f"{lang} prompt {i}"}) + "\n" for i in range(40)),
                        encoding="utf-8")
        files[lang] = str(path)
        ratings.update({(lang, str(i)): float(base[i]) for i in range(40)})
    scorer = PlantedScorer(ratings, noise={}, offset={"de": 0.2})
    monkeypatch.setattr(steps, "open_cached_scorer", lambda name, settings, cache: scorer)
    out = [str(tmp_path / f"c.{k}") for k in ("csv", "md", "png")]
    rows = {r.lang: r for r in steps.scorer_consistency(files, *out, "planted", {}, str(tmp_path / "s.sqlite"),
                                                         n_boot=100, max_prompts=30)}
    assert rows["de"].n == 30
    assert rows["de"].offset == pytest.approx(0.2, abs=0.03) and rows["fr"].offset == pytest.approx(0.0, abs=1e-9)
    assert rows["fr"].spearman_en == pytest.approx(1.0)
    assert list(csv.DictReader(open(out[0], encoding="utf-8")))[1]["lang"] == "de"


def test_learned_scorer_trains_validates_out_of_fold_and_costs_no_encoder_pass(tmp_path, rtplx, tiny_model_dir):
    encoder = str(tiny_model_dir("gemma"))
    settings = {"encoder": encoder, "layers": [1, 2], "pooling": "mean", "max_length": 32, "precision": "float32",
                "head": "ridge", "l2": 10.0, "folds": 3, "seed": 0, "batch_tokens": 1024, "threads": 1,
                "training": {"rtplx": {"enabled": True, "max_per_lang": 40, "selection": "random", "seed": 0,
                                       "target": "index_mean"},
                             "jigsaw": {"max_examples": 0, "weight": 1.0}}}
    heads = tmp_path / "heads"
    summary = steps.train_scorer(encoder, rtplx, str(heads), {k: v for k, v in settings.items()
                                                              if k not in ("batch_tokens", "threads")}, threads=1)
    assert summary["examples"] == {f"rtplx:{lang}": 40 for lang in LANGS}
    runtime = {k: v for k, v in settings.items() if k != "training"} | {"heads": str(heads)}
    out = [str(tmp_path / f"v.{k}") for k in ("csv", "md", "png")]
    cache = str(tmp_path / "scores.sqlite")
    validation = {**VALIDATION, "max_per_lang": 40}  # the training prompts: all out-of-fold scores, from the cache
    rows = steps.scorer_validation(rtplx, *out, "learned", runtime, cache, validation, 0.5)
    assert all(r.n == 40 for r in rows)
    assert np.mean([r.auc for r in rows]) > 0.7  # toxic and benign words are separable even for a random encoder
    log_oof = {(r["lang"], r["prompt_id"]): r["score"]
               for r in (json.loads(line) for line in (heads / "oof.jsonl").read_text().splitlines())}
    from xdetox.scoring.registry import open_cached_scorer

    scorer = open_cached_scorer("learned", runtime, cache)
    try:
        from xdetox.data.prompts import load_rtplx_annotations

        record = next(r for r in load_rtplx_annotations(rtplx["de"], "de") if ("de", r["id"]) in log_oof)
        again = scorer.score_prompts([record["text"]], "de", [record["id"]])[0].toxicity
        assert scorer.stats["requests"] == 0  # served from the out-of-fold scores put in the cache
        assert again == pytest.approx(log_oof[("de", record["id"])])
    finally:
        scorer.close()


def test_a_validation_note_names_mean_min_and_unvalidated_languages(tmp_path, rtplx, monkeypatch):
    planted(monkeypatch, rtplx, noise={"de": 0.3})
    out = [str(tmp_path / f"v.{k}") for k in ("csv", "md", "png")]
    steps.scorer_validation(rtplx, *out, "planted", {}, str(tmp_path / "c.sqlite"), VALIDATION, 0.5)
    note = validation_note(read_validation_csv(out[0]), "planted", out[0])
    assert note.startswith("Toxicity scorer `planted`: ROC-AUC") and "over 2 languages" in note
    assert "not validated in" in note and out[0] in note
    from xdetox.steps.evaluate import scorer_notes

    assert scorer_notes({"planted": out[0]}) == [note]
