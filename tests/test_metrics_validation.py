"""Scorer validation against human ratings: planted scorers of known quality, undefined cases, consistency."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from scipy.stats import norm

from xdetox import XdetoxError
from xdetox.metrics.validation import (
    KAPPA_BINS,
    consistency,
    human_category,
    score_category,
    summary_row,
    validate,
    validate_language,
    weighted_kappa,
)
from xdetox.report.validation import consistency_markdown, plot_validation, validation_markdown, write_rows_csv


def test_fixed_bins_and_rounding():
    assert score_category([0.0, 0.19, 0.2, 0.5, 0.79, 0.8, 1.0]).tolist() == [1, 1, 2, 3, 4, 5, 5]
    assert KAPPA_BINS == (0.2, 0.4, 0.6, 0.8)
    # means of three raters: 1, 4/3, 5/3, 2, 7/3, 8/3, 3 ...
    assert human_category([1, 4 / 3, 5 / 3, 2, 7 / 3, 8 / 3, 3, 14 / 3, 5]).tolist() == [1, 1, 2, 2, 2, 3, 3, 5, 5]


def test_weighted_kappa_by_hand():
    assert weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    # every pair 4 categories apart (weight 1); marginals .5/.5 on 1 and 5 → expected weighted disagreement .5
    assert weighted_kappa([1, 1, 5, 5], [5, 5, 1, 1]) == pytest.approx(-1.0)
    # a: 1 1 2 2, b: 1 2 2 3 → O: (1,1) (1,2) (2,2) (2,3) ¼ each, Σ w·O = (0 + ¼ + 0 + ¼)·¼ = 1/8;
    # marginals a = (½, ½, 0, 0, 0), b = (¼, ½, ¼, 0, 0): Σ w·E = ½(¼·0 + ½·¼ + ¼·½) + ½(¼·¼ + ½·0 + ¼·¼) = 3/16
    assert weighted_kappa([1, 1, 2, 2], [1, 2, 2, 3]) == pytest.approx(1 - (1 / 8) / (3 / 16))
    assert math.isnan(weighted_kappa([3, 3], [3, 3]))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _planted(rng, n, beta, sigma):
    """Human means of 3 raters on 1–5 and a scorer that reads the human label (mean ≥ 3) through Gaussian noise."""
    raters = rng.integers(1, 6, size=(n, 3))
    human = raters.mean(1)
    score = _sigmoid(beta * (human >= 3) - beta / 2 + sigma * rng.standard_normal(n))
    return human, score


@pytest.mark.parametrize("beta,sigma", [(3.0, 1.0), (1.0, 1.5)])
def test_planted_scorer_recovers_its_auc_and_kappa(beta, sigma):
    # AUC of s = β·y + σ·ε (monotone transforms do not change it) is P(β + σ(ε₁ − ε₂) > 0) = Φ(β / (σ√2)).
    expected_auc = norm.cdf(beta / (sigma * math.sqrt(2)))
    # κ has no closed form here: take the population value from a large independent simulation.
    big_h, big_s = _planted(np.random.default_rng(12345), 400_000, beta, sigma)
    expected_kappa = weighted_kappa(human_category(big_h), score_category(big_s))
    human, score = _planted(np.random.default_rng(7), 4000, beta, sigma)
    row = validate_language("xx", human, score, n_boot=200, seed=1)
    assert row.n == 4000 and row.note == ""
    assert row.auc == pytest.approx(expected_auc, abs=0.025)
    # a 95% interval of an AUC from 4000 prompts is a few hundredths wide around its estimate
    assert row.auc_lo < row.auc < row.auc_hi and 0.002 < row.auc_hi - row.auc_lo < 0.08
    assert row.kappa == pytest.approx(expected_kappa, abs=0.03)
    assert row.kappa_lo < row.kappa < row.kappa_hi and 0.01 < row.kappa_hi - row.kappa_lo < 0.08
    assert row.human_share == pytest.approx((human >= 3).mean())
    assert row.flagged_share == pytest.approx((score >= 0.5).mean())


def test_per_language_quality_is_told_apart():
    rng = np.random.default_rng(3)
    rows = []
    for lang, sigma in (("de", 0.5), ("hi", 4.0)):
        human, score = _planted(rng, 1500, 2.0, sigma)
        rows += [{"lang": lang, "prompt_id": str(i), "human": h, "score": s} for i, (h, s) in enumerate(zip(human, score))]
    good, bad = validate(rows, n_boot=100)
    assert (good.lang, bad.lang) == ("de", "hi")
    assert good.auc_lo > bad.auc_hi  # intervals separate a clearly better language from a worse one
    assert good.auc == pytest.approx(norm.cdf(2.0 / (0.5 * math.sqrt(2))), abs=0.03)
    assert bad.auc == pytest.approx(norm.cdf(2.0 / (4.0 * math.sqrt(2))), abs=0.04)


def test_constant_scorer_is_reported_as_not_validatable():
    human = [1, 2, 3, 4, 5, 1.5, 3.5]
    row = validate_language("hi", human, [0.0] * 7, n_boot=50)
    assert all(math.isnan(v) for v in (row.auc, row.auc_lo, row.auc_ge2, row.spearman, row.kappa, row.kappa_hi))
    assert "constant" in row.note and "cannot be validated" in row.note
    assert row.flagged_share == 0.0 and row.human_share == pytest.approx(4 / 7)


def test_language_without_labels_and_one_class_only():
    rows = [{"lang": "en", "prompt_id": str(i), "human": h, "score": s}
            for i, (h, s) in enumerate([(1.0, 0.1), (1.33, 0.4), (2.0, 0.3), (2.67, 0.9)])]
    en, ko = validate(rows, langs=["en", "ko"], n_boot=50)
    assert math.isnan(en.auc) and "humans rate no prompt toxic" in en.note
    assert not math.isnan(en.spearman) and not math.isnan(en.auc_ge2)  # ≥ 2 has both classes here
    assert ko.n == 0 and math.isnan(ko.auc) and "no human labels" in ko.note
    s = summary_row([en, ko])
    assert math.isnan(s["mean_auc"]) and s["not_validated"] == 2


def test_bad_input_is_refused():
    with pytest.raises(XdetoxError, match="2 human ratings but 1 scores"):
        validate_language("en", [1, 2], [0.5])
    with pytest.raises(XdetoxError, match=r"in \[0, 1\]"):
        validate_language("en", [1, 2], [0.5, 1.5])
    with pytest.raises(XdetoxError, match="appears twice"):
        validate([{"lang": "en", "prompt_id": "1", "human": 1, "score": 0},
                  {"lang": "en", "prompt_id": "1", "human": 2, "score": 1}])


def test_consistency_offsets_and_rank_correlation():
    rng = np.random.default_rng(0)
    en = rng.uniform(0, 0.8, 300)
    scores = {"en": en, "de": en + 0.1, "hi": rng.permutation(en), "sv": np.zeros(300)}
    rows = {r.lang: r for r in consistency(scores, n_boot=200)}
    assert rows["en"].offset == 0 and rows["en"].spearman_en == pytest.approx(1.0)
    assert rows["de"].offset == pytest.approx(0.1) and rows["de"].offset_lo == pytest.approx(0.1)
    assert rows["de"].spearman_en == pytest.approx(1.0)
    assert abs(rows["hi"].spearman_en) < 0.15 and rows["hi"].spearman_en_lo < 0 < rows["hi"].spearman_en_hi
    assert rows["sv"].offset == pytest.approx(-en.mean()) and math.isnan(rows["sv"].spearman_en)
    assert "constant" in rows["sv"].note
    with pytest.raises(XdetoxError, match="line-aligned"):
        consistency({"en": [0.1, 0.2], "de": [0.1]})
    with pytest.raises(XdetoxError, match="reference language"):
        consistency({"de": [0.1]})


def test_tables_and_figure(tmp_path):
    rng = np.random.default_rng(1)
    human, score = _planted(rng, 200, 2.0, 1.0)
    rows = [validate_language("en", human, score, n_boot=50), validate_language("hi", human, np.zeros(200), n_boot=50)]
    md = validation_markdown(rows, "learned")
    assert "| en | 200 |" in md and "| hi | 200 |" in md and "1 language(s) not validated" in md
    write_rows_csv(rows, tmp_path / "v.csv", scorer="learned")
    table = list(csv.DictReader(open(tmp_path / "v.csv", encoding="utf-8")))
    assert table[0]["scorer"] == "learned" and float(table[0]["auc"]) == pytest.approx(rows[0].auc)
    assert table[1]["auc"] == "" and "constant" in table[1]["note"]
    plot_validation({"learned": rows, "lexicon": rows[:1]}, tmp_path / "v.png")
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"
    crow = consistency({"en": [0.1, 0.5, 0.2], "zh-hans": [0.2, 0.6, 0.1]}, n_boot=20)
    assert "| zh | 3 |" in consistency_markdown(crow, "learned")


def test_the_figure_draws_an_interval_that_misses_its_point(tmp_path):
    from xdetox.metrics.validation import ValidationRow
    from xdetox.report.validation import plot_validation

    odd = ValidationRow("de", 12, 3, 0.25, 0.1, 0.5, 0.55, 0.9, 0.5, 0.6, 0.9, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3)
    plot_validation({"lexicon": [odd]}, tmp_path / "v.png")
    assert (tmp_path / "v.png").stat().st_size > 0
