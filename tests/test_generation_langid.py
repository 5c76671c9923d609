"""Language identification of continuations, its own step, and the per-model table/figure (a switch to English must
show)."""

from __future__ import annotations

import csv
import math

from helpers import PNG
from xdetox.io import read_jsonl, write_jsonl
from xdetox.langid import detect, identify, same_language, summarize
from xdetox.steps.generate import langid, langid_table


def test_detect_clear_texts_and_undetermined():
    assert detect("Ich hasse dich, du bist so dumm und ich will nicht")[0] == "de"
    assert detect("you are such a stupid idiot and I hate you")[0] == "en"
    assert detect("我恨你，你是个白痴，我不想再见到你")[0] == "zh"
    assert detect("")[0] is None and detect("!!! 123 ...")[0] is None
    lang, confidence = detect("Gracias por la cena, fue una noche maravillosa")
    assert lang == "es" and 0 < confidence <= 1


def test_same_language_aliases():
    assert same_language("zh-hans", "zh") and same_language("zh-hans", "yue")
    assert same_language("id", "ms") and same_language("ar", "arz")
    assert same_language("de", "de") and not same_language("de", "en") and not same_language("de", None)


def test_identify_and_summarize():
    texts = ["Ich hasse dich, du bist ein Idiot und dumm", "you are an idiot and I hate you so much",
             "Das ist wirklich eine sehr schlechte Idee von dir", "...."]
    records = identify([{"prompt_id": "0", "sample": i, "text": t} for i, t in enumerate(texts)])
    assert [r["detected_lang"] for r in records] == ["de", "en", "de", None]
    assert [r["sample"] for r in records] == [0, 1, 2, 3] and "text" not in records[0]
    summary = summarize(records, "de")
    assert summary["n"] == 4 and summary["undetermined"] == 1
    assert math.isclose(summary["share_same"], 2 / 3) and math.isclose(summary["share_en"], 1 / 3)
    assert summary["top_other"] == "en"


def test_table_and_figure_show_a_switch_to_english(tmp_path):
    german = "Ich hasse dich, du bist ein Idiot und ich will dich nie wieder sehen"
    english = "I am sorry, I cannot continue this conversation about that topic"
    files = {}
    for stage, text in (("base", german), ("dpo", english)):
        for lang in ("de", "en"):
            generations = tmp_path / "generations" / stage / f"{lang}.jsonl"
            write_jsonl(generations, [{"prompt_id": str(i), "lang": lang, "sample": 0,
                                       "text": text if lang == "de" else english} for i in range(5)])
            files[(stage, lang)] = str(tmp_path / "langid" / stage / f"{lang}.jsonl")
            assert langid(str(generations), files[(stage, lang)]) == 5
            assert [r["prompt_id"] for r in read_jsonl(files[(stage, lang)])] == ["0", "1", "2", "3", "4"]
    out = tmp_path / "t"
    rows = langid_table(files, str(out / "langid.csv"), str(out / "langid.md"), str(out / "langid.png"), "tiny", "Tiny")
    by = {(r["stage"], r["lang"]): r for r in rows}
    assert by[("base", "de")]["share_same"] == 1.0 and by[("dpo", "de")]["share_same"] == 0.0
    assert by[("dpo", "de")]["share_en"] == 1.0 and by[("dpo", "en")]["share_same"] == 1.0
    table = list(csv.DictReader((out / "langid.csv").open()))
    assert [(r["stage"], r["lang"]) for r in table] == [("base", "de"), ("base", "en"), ("dpo", "de"), ("dpo", "en")]
    md = (out / "langid.md").read_text()
    assert "| de | 100% | 0% | 0% | 100% |" in md
    assert (out / "langid.png").read_bytes()[:8] == PNG
