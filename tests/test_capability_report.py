"""Table 3 rendering from capability records (no model): pairing, changes, Markdown/LaTeX/CSV, paper comparison."""

from __future__ import annotations

import csv
import math

import pytest

from xdetox import XdetoxError
from xdetox.report import table3 as T
from xdetox.report.paper_table3 import PAPER_TABLE3


def rec(model, stage, bench, lang, acc, se=0.01, acc_norm=None, n=1000, shots=25, split="test", metric="acc"):
    r = {"model": model, "stage": stage, "benchmark": bench, "lang": lang, "acc": acc, "acc_stderr": se, "n": n,
         "num_fewshot": shots, "split": split, "table_metric": metric}
    if acc_norm is not None:
        r.update(acc_norm=acc_norm, acc_norm_stderr=se)
    return r


RECORDS = [
    rec("bloom", "base", "arc", "ru", 0.30, acc_norm=0.2746, metric="acc_norm"),
    rec("bloom", "dpo", "arc", "ru", 0.31, acc_norm=0.2814, metric="acc_norm"),
    rec("bloom", "base", "arc", "vi", 0.33, acc_norm=0.3368, metric="acc_norm"),
    rec("bloom", "dpo", "arc", "vi", 0.34, acc_norm=0.3393, metric="acc_norm"),
    rec("bloom", "base", "mmlu_fulltext", "ru", 0.2709, se=0.004, shots=25),
    rec("bloom", "dpo", "mmlu_fulltext", "ru", 0.2759, se=0.003, shots=25),
    rec("bloom", "dpo-seed1", "arc", "ru", 0.99),  # other DPO stages are not Table 3's
]


def test_rows_pair_stages_and_compute_the_change():
    rows = T.rows(RECORDS, {"bloom": "BLOOM (7.1B)"})
    arc_ru = {r["metric"]: r for r in rows if r["benchmark"] == "arc" and r["lang"] == "ru"}
    assert set(arc_ru) == {"acc", "acc_norm"}
    assert arc_ru["acc_norm"]["change"] == pytest.approx(0.0068)
    assert arc_ru["acc_norm"]["change_stderr"] == pytest.approx(math.sqrt(2) * 0.01)
    mmlu = [r for r in rows if r["benchmark"] == "mmlu_fulltext"]
    assert len(mmlu) == 1 and mmlu[0]["change_stderr"] == pytest.approx(0.005)
    assert len(T.shown_rows(rows)) == 3


def test_a_missing_or_mismatched_stage_is_an_error():
    with pytest.raises(XdetoxError, match=r"bloom on arc/ru: no record for stage\(s\) dpo"):
        T.rows([RECORDS[0]])
    other_n = dict(RECORDS[1], n=10)
    with pytest.raises(XdetoxError, match="n differs before"):
        T.rows([RECORDS[0], other_n])
    with pytest.raises(XdetoxError, match="two capability records"):
        T.rows([RECORDS[0], RECORDS[0]])


def test_tables_show_each_benchmarks_metric_with_standard_errors(tmp_path):
    out = {k: tmp_path / f"table3.{k}" for k in ("csv", "md", "tex")}
    T.table3(RECORDS, out["csv"], out["md"], out["tex"], labels={"bloom": "BLOOM (7.1B)"}, notes=["a note"])
    md = out["md"].read_text()
    assert "**BLOOM (7.1B)**" in md
    assert "| Lang | ARC (acc_norm, 25-shot, test) before | after | Δ | MMLU (acc, 25-shot, test) before |" in md
    assert "| ru | 27.46 ± 1.00 | 28.14 ± 1.00 | +0.68 ± 1.41 | 27.09 ± 0.40 | 27.59 ± 0.30 | +0.50 ± 0.50 |" in md
    assert "| vi | 33.68 ± 1.00 | 33.93 ± 1.00 | +0.25 ± 1.41 | — | — | — |" in md
    assert "- a note" in md
    tex = out["tex"].read_text()
    assert r"27.46$\pm$1.00" in tex and r"\cmidrule(lr){2-4} \cmidrule(lr){5-7}" in tex and "vi & 33.68" in tex
    rows = list(csv.DictReader(out["csv"].open()))
    assert len(rows) == 5 and rows[0]["before"] == "0.3" and rows[0]["metric"] == "acc"


def test_paper_comparison_uses_the_papers_bloom_7b1_numbers(tmp_path):
    rows = T.rows(RECORDS, {"bloom": "BLOOM (7.1B)"})
    recs = T.paper_comparison(rows, {"bloom": "bloom-7.1b"}, tmp_path / "p.csv", tmp_path / "p.md")
    by = {(r["benchmark"], r["lang"]): r for r in recs}
    assert by[("arc", "ru")]["paper_before"] == 27.46 and by[("arc", "ru")]["paper_change"] == pytest.approx(0.68)
    assert by[("mmlu_fulltext", "ru")]["paper_column"] == "mmlu" and by[("mmlu_fulltext", "ru")]["paper_after"] == 27.59
    assert "| BLOOM (7.1B) | BLOOM (7.1B) | ARC | ru | acc_norm | 27.46 / 27.46 | 28.14 / 28.14 | +0.68 / +0.68 |" in (
        tmp_path / "p.md").read_text()
    none = T.paper_comparison(rows, {"bloom": None}, tmp_path / "q.csv", tmp_path / "q.md")
    assert none == [] and "No evaluated model" in (tmp_path / "q.md").read_text()
    assert set(PAPER_TABLE3["bloom-7.1b"][1]) == {"vi", "ru", "hi", "zh-hans"}


def test_figure_puts_toxicity_change_beside_capability_change(tmp_path):
    toxicity = {("bloom", "base", "ru"): {"emt": 0.5}, ("bloom", "dpo", "ru"): {"emt": 0.3}}
    assert T.toxicity_change(toxicity, "bloom", ["ru", "vi"]) == [pytest.approx(-0.2), None]
    rows = T.rows(RECORDS, {"bloom": "BLOOM (7.1B)"})
    T.figure(rows, tmp_path / "fig.png", toxicity, scorer="perspective")
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"


def test_paper_comparison_table_takes_table3_after_table2(tmp_path):
    from xdetox.steps.evaluate import paper_comparison

    T.paper_comparison(T.rows(RECORDS), {"bloom": "bloom-7.1b"}, tmp_path / "t3.csv", tmp_path / "t3.md")
    table2 = tmp_path / "table2.csv"
    table2.write_text("stage,emt,tox_prob,avg_tox,ppl,dist1,dist2,dist3\nbase,0.5,0.4,0.2,10,0.5,0.6,0.7\n"
                      "dpo,0.3,0.2,0.1,11,0.5,0.6,0.7\n")
    out = {"csv": tmp_path / "paper.csv", "md": tmp_path / "paper.md"}
    paper_comparison([{"label": "BLOOM 7B", "paper_reference": "bloom-7.1b", "table2_csv": str(table2)}], out,
                     "lexicon", table3_paper=str(tmp_path / "t3.csv"))
    md = out["md"].read_text()
    assert md.index("Our Table 2") < md.index("Our Table 3")
    assert "| bloom | BLOOM (7.1B) | ARC | ru | acc_norm | 27.46 / 27.46 | 28.14 / 28.14 | +0.68 / +0.68 |" in md
    rows = {(r["stage"], r["metric"]): r for r in csv.DictReader(out["csv"].open())}
    assert float(rows[("dpo", "table3 arc/ru acc_norm")]["paper"]) == 28.14
    assert float(rows[("base", "table3 mmlu_fulltext/ru acc")]["ours"]) == pytest.approx(27.09)
    assert ("base", "emt") in rows
