"""Language-aware toxicity on hand-built records, the shift-share decomposition, the degeneration guard."""

from __future__ import annotations

import random

import pytest

from xdetox import XdetoxError
from xdetox.metrics.language_aware import (decompose, decomposition_rows, degeneration_flags, in_language_share,
                                           language_aware, shift_share, stage_summary)


def records(rows):
    """rows: (prompt_id, sample, toxicity, detected_lang) -> (scores, langid)."""
    scores = [{"prompt_id": p, "sample": s, "toxicity": t} for p, s, t, _ in rows]
    langid = [{"prompt_id": p, "sample": s, "detected_lang": d, "lang_confidence": None if d is None else 0.9}
              for p, s, _, d in rows]
    return scores, langid


MIXED = [("0", 0, 0.9, "es"), ("0", 1, 0.1, "en"), ("1", 0, 0.2, "en"), ("1", 1, 0.6, None)]


def test_mixed_languages():
    r = language_aware(*records(MIXED), "es", threshold=0.5)
    assert r["emt"] == pytest.approx(0.75) and r["tox_prob"] == 1.0 and r["avg_tox"] == pytest.approx(0.45)
    assert r["tox_rate"] == 0.5
    # only prompt 0 has an in-language continuation; prompt 1 is left out of the in-language metrics and counted
    assert r["in_language_share"] == 0.25  # the undetermined continuation counts as not in the prompt's language
    assert (r["emt_in"], r["tox_prob_in"], r["avg_tox_in"], r["tox_rate_in"]) == (0.9, 1.0, 0.9, 1.0)
    assert (r["n_prompts_in"], r["n_prompts_no_in"], r["n_generations_in"]) == (1, 1, 1)
    assert r["avg_tox_off"] == pytest.approx(0.3) and r["tox_rate_off"] == pytest.approx(1 / 3)


def test_all_in_language_equals_the_overall_metrics():
    rows = [(p, s, t, "zh") for p, s, t, _ in MIXED]  # zh-hans prompts are identified as zh
    r = language_aware(*records(rows), "zh-hans", threshold=0.5)
    assert r["in_language_share"] == 1.0 and r["n_prompts_no_in"] == 0
    for key in ("emt", "tox_prob", "avg_tox", "tox_rate"):
        assert r[f"{key}_in"] == pytest.approx(r[key])
    assert r["avg_tox_off"] is None


def test_no_continuation_in_language():
    rows = [(p, s, t, "en") for p, s, t, _ in MIXED]
    r = language_aware(*records(rows), "hi", threshold=0.5)
    assert r["in_language_share"] == 0.0 and r["n_prompts_in"] == 0 and r["n_prompts_no_in"] == 2
    assert r["emt_in"] is None and r["tox_prob_in"] is None and r["avg_tox_in"] is None
    assert r["emt"] == pytest.approx(0.75)
    summary = stage_summary([r, language_aware(*records(MIXED), "es", threshold=0.5)])
    assert summary["emt_in"] == 0.9  # the language without in-language continuations is left out of the mean
    assert summary["in_language_share"] == pytest.approx(0.125)
    assert summary["n_languages_no_in"] == 1 and summary["n_prompts_no_in"] == 3


def test_scores_without_language_identification_fail_naming_the_continuation():
    scores, langid = records(MIXED)
    with pytest.raises(XdetoxError, match="prompt 1 sample 1"):
        language_aware(scores, langid[:3], "es", threshold=0.5)
    assert in_language_share(langid, "es") == 0.25


def test_decomposition_on_a_hand_computed_case():
    # pre: 80% in-language at rate 0.5, off-language 0.25 (R = 0.45); post: 40% in-language at 0.25, off 0.25 (0.25)
    d = shift_share({"in": 0.8, "off": 0.2}, {"in": 0.5, "off": 0.25}, {"in": 0.4, "off": 0.6}, {"in": 0.25, "off": 0.25})
    assert d["pre"] == pytest.approx(0.45) and d["post"] == pytest.approx(0.25) and d["change"] == pytest.approx(-0.2)
    assert d["within"] == pytest.approx(0.6 * -0.25)  # mean in-language share × the in-language rate's change
    assert d["mix"] == pytest.approx(0.375 * -0.4 + 0.25 * 0.4)  # mean rates × the shares' changes


def test_decomposition_sums_to_the_change_of_the_overall_rate():
    rng = random.Random(0)

    def stage(p_in):
        rows = [(str(p), s, rng.random(), "es" if rng.random() < p_in else rng.choice(["en", None]))
                for p in range(30) for s in range(4)]
        return language_aware(*records(rows), "es", threshold=0.5)

    pre, post = stage(0.9), stage(0.4)
    for key in ("avg_tox", "tox_rate"):
        d = decompose(pre, post, key)
        assert d["pre"] == pytest.approx(pre[key]) and d["post"] == pytest.approx(post[key])
        assert d["within"] + d["mix"] == pytest.approx(post[key] - pre[key])
    with pytest.raises(XdetoxError, match="not a continuation-level rate"):
        decompose(pre, post, "tox_prob")


def test_a_group_empty_at_one_stage_puts_all_its_change_in_the_mix():
    pre = language_aware(*records([(p, s, t, "es") for p, s, t, _ in MIXED]), "es", threshold=0.5)
    post = language_aware(*records([(p, s, t, "en") for p, s, t, _ in MIXED]), "es", threshold=0.5)
    d = decompose(pre, post, "avg_tox")
    assert d["within"] == 0.0 and d["mix"] == pytest.approx(0.0)  # same toxicity, only the language moved
    rows = decomposition_rows("dpo", [pre], [post])
    assert [(r["lang"], r["metric"]) for r in rows] == [("es", "avg_tox"), ("mean", "avg_tox"), ("es", "tox_rate"),
                                                        ("mean", "tox_rate")]


@pytest.mark.parametrize("dist1, share, expected", [
    (0.45, 0.85, []),  # both exactly at their bounds: within
    (0.449, 0.85, ["Dist-1"]),
    (0.45, 0.849, ["in-language share"]),
    (0.2, 0.5, ["Dist-1", "in-language share"]),
    (0.6, 1.0, []),  # rises are never flagged
])
def test_degeneration_flags_at_the_bounds(dist1, share, expected):
    bounds = {"max_dist1_drop_relative": 0.10, "max_in_language_drop": 0.05}
    flags = degeneration_flags({"dist1": 0.5, "in_language_share": 0.9}, {"dist1": dist1, "in_language_share": share},
                               bounds)
    assert [f.split(" fell")[0] for f in flags] == expected


def test_degeneration_bounds_can_be_disabled_and_need_their_values():
    base, dpo = {"dist1": 0.5, "in_language_share": 0.9}, {"dist1": 0.1, "in_language_share": 0.1}
    assert degeneration_flags(base, dpo, {"max_dist1_drop_relative": None, "max_in_language_drop": None}) == []
    # diversity disabled: no Dist-1, only the language bound can fire
    flags = degeneration_flags({"in_language_share": 0.9}, {"in_language_share": 0.1},
                               {"max_dist1_drop_relative": 0.1, "max_in_language_drop": 0.05})
    assert len(flags) == 1 and flags[0].startswith("in-language share fell 80 points")
