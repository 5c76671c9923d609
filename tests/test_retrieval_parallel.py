"""The parallel-sentence loader: aligned lists per language, errors naming file and line."""

from __future__ import annotations

import json

import pytest

from xdetox import XdetoxError
from xdetox.data.parallel import load_files, relpath


def _jsonl(path, texts):
    path.write_text("".join(json.dumps({"Prompt": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path


def test_relpaths_use_each_dataset_s_language_codes():
    assert relpath("parallel200", "zh-hans").endswith("dpo_toxicity_pairwise_zh_200.jsonl")
    assert relpath("ntrex", "zh-hans") == "ntrex-128/newstest2019-ref.zho-CN.txt"
    assert relpath("ntrex", "en") == "ntrex-128/newstest2019-src.eng.txt"
    with pytest.raises(XdetoxError, match="unknown parallel dataset"):
        relpath("flores", "en")


def test_aligned_files_load_in_order_and_max_sentences_keeps_the_first(tmp_path):
    paths = {"en": _jsonl(tmp_path / "en.jsonl", ["a", "b", "c"]), "de": _jsonl(tmp_path / "de.jsonl", ["ä", "ß", "ö"])}
    assert load_files("parallel200", paths) == {"en": ["a", "b", "c"], "de": ["ä", "ß", "ö"]}
    assert load_files("parallel200", paths, max_sentences=2) == {"en": ["a", "b"], "de": ["ä", "ß"]}
    (tmp_path / "en.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "de.txt").write_text("eins\r\nzwei", encoding="utf-8")  # CRLF, no final newline
    assert load_files("ntrex", {"en": tmp_path / "en.txt", "de": tmp_path / "de.txt"}) == {
        "en": ["one", "two"], "de": ["eins", "zwei"]}


def test_misaligned_files_are_rejected_naming_the_files(tmp_path):
    en, de = _jsonl(tmp_path / "en.jsonl", ["a", "b", "c"]), _jsonl(tmp_path / "de.jsonl", ["x", "y"])
    with pytest.raises(XdetoxError, match="not line-aligned") as err:
        load_files("parallel200", {"en": en, "de": de})
    assert f"{en}: 3 lines" in str(err.value) and f"{de}: 2 lines" in str(err.value)
    # max_sentences does not hide a misalignment further down
    with pytest.raises(XdetoxError, match="not line-aligned"):
        load_files("parallel200", {"en": en, "de": de}, max_sentences=1)


def test_bad_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"Prompt": "a"}\n{"Prompt": \n', encoding="utf-8")
    with pytest.raises(XdetoxError, match=rf"{bad}:2: invalid JSON"):
        load_files("parallel200", {"en": bad})
    bad.write_text('{"Prompt": "a"}\n\n{"Prompt": "b"}\n', encoding="utf-8")
    with pytest.raises(XdetoxError, match=rf"{bad}:2: blank line"):
        load_files("parallel200", {"en": bad})
    bad.write_text('{"Text": "a"}\n', encoding="utf-8")
    with pytest.raises(XdetoxError, match=rf"{bad}:1: expected a JSON object with a 'Prompt' field"):
        load_files("parallel200", {"en": bad})
    txt = tmp_path / "x.txt"
    txt.write_text("a\n  \nb\n", encoding="utf-8")
    with pytest.raises(XdetoxError, match=rf"{txt}:2: blank line"):
        load_files("ntrex", {"en": txt})
    with pytest.raises(XdetoxError, match="file not found"):
        load_files("ntrex", {"en": tmp_path / "missing.txt"})


def test_the_real_files_are_aligned(shared_data, tmp_path):
    files = lambda dataset, langs: {lang: shared_data / relpath(dataset, lang) for lang in langs}
    p = load_files("parallel200", files("parallel200", ["en", "zh-hans", "ar"]))
    assert {len(v) for v in p.values()} == {200}
    n = load_files("ntrex", files("ntrex", ["en", "de"]), max_sentences=5)
    assert [len(v) for v in n.values()] == [5, 5]
