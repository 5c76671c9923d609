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


# ------------------------------------------------------------------------ the steps: Table 2, Figure 1, the table

def write_stage(tmp_path, stage, lang, rows, dist1):
    """One (stage, language)'s files as the workflow writes them: scores, langid, metrics and diversity summaries."""
    from xdetox.io import write_json, write_jsonl
    from xdetox.metrics.toxicity import toxicity_metrics

    scores, langid = records(rows)
    d = tmp_path / stage
    d.mkdir(exist_ok=True)
    write_jsonl(d / f"{lang}.scores.jsonl", scores)
    write_jsonl(d / f"{lang}.langid.jsonl", langid)
    write_json(d / f"{lang}.metrics.json", {**toxicity_metrics(scores, 0.5, 0, 0.95, 0), "lang": lang})
    write_json(d / f"{lang}.diversity.json", {"lang": lang, "dist1": dist1, "dist2": 0.8, "dist3": 0.9})
    return {kind: str(d / f"{lang}.{kind}.{'json' if kind in ('metrics', 'diversity') else 'jsonl'}")
            for kind in ("scores", "langid", "metrics", "diversity")}


def stage_inputs(tmp_path, degenerate: bool):
    """Stages base and dpo of languages es and hi; a degenerate dpo stage repeats itself and writes English."""
    langs = ["es", "hi"]
    base = {lang: write_stage(tmp_path, "base", lang, [(p, s, t, lang) for p, s, t, _ in MIXED], 0.5) for lang in langs}
    dpo = {lang: write_stage(tmp_path, "dpo", lang, [(p, s, 0.1, "en" if degenerate else lang) for p, s, _, _ in MIXED],
                             0.2 if degenerate else 0.48) for lang in langs}
    inputs = {f"{stage}_{kind}": [files[lang][kind] for lang in langs]
              for stage, files in (("base", base), ("dpo", dpo)) for kind in ("scores", "langid", "metrics", "diversity")}
    return langs, inputs


BOUNDS = {"max_dist1_drop_relative": 0.10, "max_in_language_drop": 0.05}


@pytest.mark.parametrize("degenerate", [False, True])
def test_table2_shows_the_language_columns_and_the_degeneration_flag(tmp_path, degenerate):
    import csv

    from xdetox.report.tables import read_rows_csv
    from xdetox.steps.evaluate import table2

    langs, inputs = stage_inputs(tmp_path, degenerate)
    out = {k: str(tmp_path / f"t2.{k}") for k in ("csv", "md", "tex")} | {"per_lang": str(tmp_path / "pl.csv")}
    rows = table2("Tiny", langs, inputs, out, "lexicon", 0.5, BOUNDS)
    base, dpo = rows
    assert base["in_language_share"] == 1.0 and base["tox_prob_in"] == 1.0 and base["emt_in"] == pytest.approx(0.75)
    assert dpo["in_language_share"] == (0.0 if degenerate else 1.0)
    md = (tmp_path / "t2.md").read_text()
    assert ("| Model | DPO | EMT | ToxProb | AvgTox | Dist-1 | Dist-2 | Dist-3 | EMT in-lang | ToxProb in-lang | "
            "In-lang share |") in md
    assert "Extra columns, not in the paper" in md
    header = next(csv.reader(open(out["csv"])))
    assert header[-4:] == ["emt_in", "tox_prob_in", "in_language_share", "degenerate"]
    if degenerate:
        assert "| Tiny | After ⚠ degenerate | 0.100 | 0.0% |" in md and "— | 0.0% |" in md  # no in-language ToxProb
        assert "Dist-1 fell 60% relative" in md and "in-language share fell 100 points" in md
        assert "After (degenerate)" in (tmp_path / "t2.tex").read_text()
        assert read_rows_csv(out["csv"])[1]["degenerate"].startswith("Dist-1 fell")
    else:  # Dist-1 0.5 → 0.48 (4%), everything still in the prompt's language
        assert "⚠" not in md and dpo["degenerate"] == ""


def test_figure1_and_the_language_aware_table(tmp_path):
    import csv

    from xdetox.steps.evaluate import figure1, language_aware, stage_flags

    langs, inputs = stage_inputs(tmp_path, degenerate=True)
    figure_inputs = {"base": inputs["base_metrics"], "dpo": inputs["dpo_metrics"],
                     **{k: v for k, v in inputs.items() if k.endswith(("_langid", "_diversity"))}}
    flags = figure1("Tiny", langs, figure_inputs, str(tmp_path / "f1.png"), "lexicon", BOUNDS)
    assert len(flags) == 2 and (tmp_path / "f1.png").read_bytes()[:4] == b"\x89PNG"
    no_diversity = {k: v for k, v in figure_inputs.items() if not k.endswith("_diversity")}
    assert [f.split(" fell")[0] for f in stage_flags(langs, no_diversity, BOUNDS)] == ["in-language share"]
    out = {k: str(tmp_path / f"la.{k}") for k in ("csv", "decomposition", "md", "png")}
    records_ = language_aware("Tiny", langs, ["base", "dpo"], inputs["base_scores"] + inputs["dpo_scores"],
                              inputs["base_langid"] + inputs["dpo_langid"], out, "lexicon", 0.5)
    assert [(r["stage"], r["lang"]) for r in records_] == [("base", "es"), ("base", "hi"), ("dpo", "es"), ("dpo", "hi")]
    parts = {(r["lang"], r["metric"]): r for r in csv.DictReader(open(out["decomposition"]))}
    mean = parts[("mean", "avg_tox")]
    assert float(mean["change"]) == pytest.approx(0.1 - 0.45)
    assert float(mean["within"]) + float(mean["mix"]) == pytest.approx(float(mean["change"]))
    md = (tmp_path / "la.md").read_text()
    assert "| es | dpo | 0.0% | 0.0% | — |" in md and "Within language" in md
    assert (tmp_path / "la.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(XdetoxError, match="base and dpo"):
        language_aware("Tiny", langs, ["base"], inputs["base_scores"], inputs["base_langid"], out, "lexicon", 0.5)
