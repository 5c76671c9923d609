"""Table 2 with every column, the all-model table, the seed summary, Table 1, the paper comparison, and the figures."""

from __future__ import annotations

import csv

import pytest

from xdetox.metrics.aggregate import select_table1, table2_rows
from xdetox.report import figures
from xdetox.report.paper_numbers import PAPER_TABLE2
from xdetox.report.tables import paper_comparison, per_language, read_rows_csv, seeds_table, table1, table2, table2_all

LANGS = ["en", "zh-hans"]


def metric(lang, emt, tox_prob, avg_tox):
    return {"lang": lang, "emt": emt, "tox_prob": tox_prob, "avg_tox": avg_tox, "n_prompts": 5,
            "ci": {"emt": [emt - 0.1, emt + 0.1], "tox_prob": [0, 1], "avg_tox": [0, 1]}}


STAGES = {
    "base": [metric("en", 0.6, 0.5, 0.2), metric("zh-hans", 0.4, 0.3, 0.1)],
    "dpo": [metric("en", 0.2, 0.1, 0.05), metric("zh-hans", 0.3, 0.2, 0.07)],
}
FLUENCY = {
    "base": [{"lang": "en", "median": 10.0, "q1": 8, "q3": 12, "n_kept": 20},
             {"lang": "zh-hans", "median": 20.0, "q1": 15, "q3": 30, "n_kept": 19}],
    "dpo": [{"lang": "en", "median": 12.0, "q1": 9, "q3": 14, "n_kept": 20},
            {"lang": "zh-hans", "median": None, "q1": None, "q3": None, "n_kept": 0}],
}
DIVERSITY = {
    "base": [{"lang": "en", "dist1": 0.5, "dist2": 0.8, "dist3": 0.9}, {"lang": "zh-hans", "dist1": 0.3, "dist2": 0.6, "dist3": 0.7}],
    "dpo": [{"lang": "en", "dist1": 0.4, "dist2": 0.7, "dist3": 0.8}, {"lang": "zh-hans", "dist1": 0.2, "dist2": 0.5, "dist3": 0.6}],
}


def test_table2_with_all_columns(tmp_path):
    out = {k: tmp_path / f"t.{k}" for k in ("csv", "md", "tex")}
    rows = table2_rows("Tiny", STAGES, LANGS, FLUENCY, DIVERSITY)
    table2(rows, len(LANGS), out["csv"], out["md"], out["tex"], "lexicon", ["PPL: a test evaluator."])
    per_language(tmp_path / "per_language.csv", STAGES, FLUENCY, DIVERSITY)
    base, dpo = rows
    assert base["emt"] == pytest.approx(0.5) and base["tox_prob"] == pytest.approx(0.4)
    assert base["ppl"] == pytest.approx(15.0)  # mean of per-language medians
    assert dpo["ppl"] == pytest.approx(12.0)  # a language without kept values is left out of the mean
    assert base["dist2"] == pytest.approx(0.7) and dpo["dist3"] == pytest.approx(0.7)
    header = next(csv.reader(out["csv"].open()))
    assert header == ["model", "stage", "n_languages", "emt", "tox_prob", "avg_tox", "ppl", "dist1", "dist2", "dist3"]
    md = out["md"].read_text()
    assert "| Model | DPO | EMT | ToxProb | AvgTox | PPL | Dist-1 | Dist-2 | Dist-3 |" in md
    assert "| Tiny | Before | 0.500 | 40.0% | 0.150 | 15.00 | 0.400 | 0.700 | 0.800 |" in md
    assert "- PPL: a test evaluator." in md
    tex = out["tex"].read_text()
    assert r"\begin{tabular}{llrrrrrrr}" in tex and r"40.0\%" in tex and r"PPL $\downarrow$" in tex
    per_lang = list(csv.DictReader((tmp_path / "per_language.csv").open()))
    assert per_lang[0]["lang"] == "en" and per_lang[1]["lang"] == "zh"
    assert float(per_lang[0]["ppl_median"]) == 10.0 and float(per_lang[0]["emt_lo"]) == pytest.approx(0.5)
    assert float(per_lang[3]["dist1"]) == 0.2


def test_table2_toxicity_only_keeps_the_original_layout(tmp_path):
    table2(table2_rows("Tiny", STAGES, LANGS), len(LANGS), tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex",
           "lexicon")
    assert next(csv.reader((tmp_path / "t.csv").open())) == ["model", "stage", "n_languages", "emt", "tox_prob", "avg_tox"]
    assert "| Model | DPO | EMT | ToxProb | AvgTox |\n" in (tmp_path / "t.md").read_text()


def test_table2_for_all_models_and_paper_comparison(tmp_path):
    for name in ("a", "b"):
        table2(table2_rows(name.upper(), STAGES, LANGS, FLUENCY, DIVERSITY), len(LANGS), tmp_path / f"{name}.csv",
               tmp_path / f"{name}.md", tmp_path / f"{name}.tex", "lexicon")
    rows = table2_all([read_rows_csv(tmp_path / "a.csv"), read_rows_csv(tmp_path / "b.csv")], tmp_path / "all.csv",
                      tmp_path / "all.md", tmp_path / "all.tex", "lexicon", 2)
    assert [(r["model"], r["stage"]) for r in rows] == [("A", "base"), ("A", "dpo"), ("B", "base"), ("B", "dpo")]
    assert (tmp_path / "all.tex").read_text().count(r"\midrule") == 2  # header rule + one between the models
    ours = [("A", "mgpt-1.3b", {r["stage"]: r for r in read_rows_csv(tmp_path / "a.csv")})]
    records = paper_comparison(ours, tmp_path / "cmp.csv", tmp_path / "cmp.md", "lexicon")
    emt = [r for r in records if r["metric"] == "emt" and r["stage"] == "base"][0]
    assert emt["ours"] == pytest.approx(0.5) and emt["paper"] == 0.502
    md = (tmp_path / "cmp.md").read_text()
    assert "0.500 / 0.502" in md and "46.8%" in md and "paper 68.7%" in md  # EMT reduction 0.502 -> 0.157
    assert set(PAPER_TABLE2) == {"mgpt-1.3b", "bloom-1.7b", "bloom-7.1b", "llama2-7b", "llama3-8b", "aya23-8b"}


def test_seeds_table_mean_and_std(tmp_path):
    base = {"emt": 0.5, "tox_prob": 0.4, "avg_tox": 0.1}
    seeds = {0: {"emt": 0.2, "tox_prob": 0.1, "avg_tox": 0.05}, 1: {"emt": 0.4, "tox_prob": 0.3, "avg_tox": 0.05}}
    records = seeds_table("Tiny", base, seeds, tmp_path / "s.csv", tmp_path / "s.md", "lexicon")
    emt = records[0]
    assert emt["metric"] == "emt" and emt["dpo_mean"] == pytest.approx(0.3)
    assert emt["dpo_std"] == pytest.approx(0.1414213, rel=1e-5)  # sample std (ddof=1)
    assert emt["seed0"] == 0.2 and emt["n_seeds"] == 2
    assert "0.300 ± 0.141" in (tmp_path / "s.md").read_text()


def test_table1_picks_the_most_toxic_base_continuation_and_the_same_dpo_sample(tmp_path):
    def gens(texts):
        return [{"prompt_id": p, "sample": s, "prompt": f"prompt {p}", "text": t} for (p, s), t in texts.items()]

    base_g = gens({("0", 0): "b00", ("0", 1): "b01", ("1", 0): "b10", ("1", 1): "b11"})
    dpo_g = gens({("0", 0): "d00", ("0", 1): "d01", ("1", 0): "d10", ("1", 1): "d11"})
    base_s = [{"prompt_id": p, "sample": s, "toxicity": t} for p, s, t in (("0", 0, .2), ("0", 1, .3), ("1", 0, .9), ("1", 1, .1))]
    dpo_s = [{"prompt_id": p, "sample": s, "toxicity": 0.01} for p, s, _ in (("0", 0, 0), ("0", 1, 0), ("1", 0, 0), ("1", 1, 0))]
    rows = select_table1(["en"], {"en": base_g}, {"en": base_s}, {"en": dpo_g}, {"en": dpo_s}, n_prompts=2,
                         prompt_ids=None)
    assert [(r["prompt_id"], r["sample"], r["before"], r["after"]) for r in rows] == [
        ("1", 0, "b10", "d10"), ("0", 1, "b01", "d01")]
    pinned = select_table1(["en"], {"en": base_g}, {"en": base_s}, {"en": dpo_g}, {"en": dpo_s}, n_prompts=1,
                           prompt_ids=["0"])
    assert [(r["prompt_id"], r["sample"]) for r in pinned] == [("0", 1)]
    table1(rows, tmp_path / "t1.csv", tmp_path / "t1.md", "Tiny", "lexicon", "dpo")
    assert "| en | prompt 1 | b10 (0.90) | d10 (0.01) |" in (tmp_path / "t1.md").read_text()


def test_figures_render(tmp_path):
    figures.figure1_seeds("Tiny", LANGS, STAGES["base"], {0: STAGES["dpo"], 1: STAGES["base"]}, tmp_path / "f1.png", "lexicon")
    values = {"Pre DPO": {"en": [1.0, 2.0, 3.0], "zh-hans": [4.0]}, "Post DPO": {"en": [2.0, 5.0], "zh-hans": []}}
    figures.figure10("Tiny", LANGS, values, tmp_path / "f10.png", "evaluator")
    points = [{"lr": 1e-6, "stage": "dpo-lr1e-06", "emt": 0.4, "tox_prob": 0.3, "avg_tox": 0.1, "ppl": 10.0},
              {"lr": 1e-5, "stage": "dpo", "emt": 0.2, "tox_prob": 0.1, "avg_tox": 0.05, "ppl": 12.0}]
    base = {"emt": 0.5, "tox_prob": 0.4, "avg_tox": 0.2, "ppl": 9.0}
    figures.figure11("Tiny", points, base, tmp_path / "f11.png", tmp_path / "f11.csv", "lexicon", "evaluator")
    figures.figure12("Tiny", LANGS, {"Pre DPO": STAGES["base"], "DPO (full)": STAGES["dpo"], "DPO (LoRA)": STAGES["dpo"]},
                     tmp_path / "f12.png", tmp_path / "f12.csv", "lexicon")
    for name in ("f1", "f10", "f11", "f12"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    lr = list(csv.DictReader((tmp_path / "f11.csv").open()))
    assert [r["stage"] for r in lr] == ["base", "dpo-lr1e-06", "dpo"] and lr[0]["lr"] == "" and lr[2]["ppl"] == "12.0"
    f12 = list(csv.DictReader((tmp_path / "f12.csv").open()))
    assert [(r["lang"], r["run"]) for r in f12][:3] == [("en", "Pre DPO"), ("zh", "Pre DPO"), ("en", "DPO (full)")]
