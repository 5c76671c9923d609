"""Agreement statistics against values worked out by hand on fixed numbers."""

from __future__ import annotations

import csv
import math

import pytest

from xdetox.report.agreement import agreement_tables
from xdetox.scoring.agreement import (
    agreement,
    agreement_by_language,
    paired_toxicities,
)
from xdetox.scoring.base import ScoringError
from xdetox.stats import average_ranks, pearson, roc_auc, spearman

A = [0.1, 0.4, 0.6, 0.9]


def test_pearson_by_hand():
    # deviations of A: -.4 -.1 .1 .4 (Σd²=.34); of B (mean .45): -.25 -.35 .35 .25 (Σd²=.37); Σ products = .27
    assert pearson(A, [0.2, 0.1, 0.8, 0.7]) == pytest.approx(0.27 / math.sqrt(0.34 * 0.37), abs=1e-12)
    assert math.isnan(pearson(A, [0.3] * 4))


def test_spearman_by_hand_without_and_with_ties():
    # ranks 1 2 3 4 vs 2 1 4 3: Σd² = 4, rho = 1 - 6·4 / (4·15) = 0.6
    assert spearman(A, [0.2, 0.1, 0.8, 0.7]) == pytest.approx(0.6, abs=1e-12)
    # B = .5 .1 .5 .9 → ranks 2.5 1 2.5 4; rank deviations -1.5 -.5 .5 1.5 and 0 -1.5 0 1.5: 3 / sqrt(5 · 4.5)
    assert average_ranks([0.5, 0.1, 0.5, 0.9]).tolist() == [2.5, 1.0, 2.5, 4.0]
    assert spearman(A, [0.5, 0.1, 0.5, 0.9]) == pytest.approx(3 / math.sqrt(22.5), abs=1e-12)


def test_roc_auc_by_hand():
    labels = [a >= 0.5 for a in A]  # F F T T
    # positives .8 .3 vs negatives .7 .1: .8>.7 .8>.1 .3<.7 .3>.1 → 3/4
    assert roc_auc(labels, [0.7, 0.1, 0.8, 0.3]) == 0.75
    # positives .5 .9 vs negatives .5 .1: tie counts ½ → 3.5/4
    assert roc_auc(labels, [0.5, 0.1, 0.5, 0.9]) == 0.875
    assert math.isnan(roc_auc([False] * 4, [0.1, 0.2, 0.3, 0.4]))


def test_threshold_is_inclusive_and_undefined_values_carry_a_note():
    row = agreement([0.5, 0.2], [0.9, 0.1], "all", 0.5)
    assert row.n_toxic_a == 1 and row.roc_auc == 1.0
    row = agreement([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], "ko", 0.5)
    assert math.isnan(row.roc_auc) and "no generation toxic" in row.note
    assert row.spearman == pytest.approx(-1.0)
    row = agreement([0.1, 0.9], [0.4, 0.4], "all", 0.5)
    assert math.isnan(row.pearson) and "B's scores are constant" in row.note


def records(values, order=None):
    rows = [{"prompt_id": f"p{i // 2}", "sample": i % 2, "toxicity": v} for i, v in enumerate(values)]
    return [rows[i] for i in order] if order else rows


def test_by_language_pairs_on_ids_and_pools():
    rows = agreement_by_language({
        "de": (records(A), records([0.7, 0.1, 0.8, 0.3], order=[3, 2, 1, 0])),  # B's file in another order
        "zh-hans": (records([0.2, 0.1]), records([0.3, 0.4])),
    }, threshold=0.5)
    assert [r.lang for r in rows] == ["de", "zh-hans", "all"]
    assert rows[0].roc_auc == 0.75 and rows[0].n == 4
    assert math.isnan(rows[1].roc_auc) and rows[1].note
    assert rows[2].n == 6
    with pytest.raises(ScoringError, match="different generations"):
        paired_toxicities(records(A), records(A[:3]))


def test_write_agreement_outputs(tmp_path):
    rows = agreement_by_language({"en": (records(A), records([0.7, 0.1, 0.8, 0.3])),
                                  "ko": (records([0.1, 0.2]), records([0.2, 0.1]))}, threshold=0.5)
    csv_path, md_path, png_path = tmp_path / "a.csv", tmp_path / "a.md", tmp_path / "a.png"
    agreement_tables(rows, csv_path, md_path, png_path, "perspective", "hf-classifier")
    table = list(csv.DictReader(csv_path.open()))
    assert [r["lang"] for r in table] == ["en", "ko", "all"]
    assert table[0]["scorer_a"] == "perspective" and float(table[0]["roc_auc"]) == 0.75
    assert table[1]["roc_auc"] == ""  # NaN
    markdown = md_path.read_text()
    assert "| en | 4 | 2 |" in markdown and "n/a" in markdown
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
