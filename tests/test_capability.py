"""Capability (Table 3) without a model: protocol, languages, task files, local-folder layout and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xdetox import XdetoxError
from xdetox.capability import benchmarks as B
from xdetox.capability import data as D
from xdetox.capability.okapi import mmlu_fulltext_doc, normalize_hellaswag_row, zh_ending

TASKS_DIR = Path(B.__file__).resolve().parent / "tasks"


def test_okapi_protocol_is_the_default():
    arc = B.resolve("arc", "ru")
    assert (arc.task_name, arc.num_fewshot, arc.eval_split, arc.fewshot_split) == ("arc_ru", 25, "test", "train")
    hs = B.resolve("hellaswag", "vi")
    assert (hs.task_name, hs.num_fewshot, hs.eval_split, hs.fewshot_split) == ("hellaswag_vi", 0, "val", None)
    mmlu = B.resolve("mmlu_fulltext", "hi")
    assert (mmlu.task_name, mmlu.num_fewshot, mmlu.eval_split, mmlu.fewshot_split) == (
        "m_mmlu_fulltext_hi", 25, "test", "train")
    assert B.resolve("mmlu", "hi").task_name == "m_mmlu_hi"
    assert mmlu.needed_splits == ("test", "train") and hs.needed_splits == ("val",)


def test_chinese_uses_the_workflow_code_and_the_projects_hellaswag():
    spec = B.resolve("hellaswag", "zh-hans")
    assert spec.okapi_lang == "zh" and spec.task_name == "hellaswag_zh" and spec.task_source == "xdetox"
    assert B.resolve("arc", "zh-hans").task_name == "arc_zh" and B.resolve("arc", "zh").lang == "zh"
    assert B.resolve("hellaswag", "ru").task_source == "lm-eval"


def test_paper_languages_and_missing_pairs():
    # Table 3's four languages exist in every benchmark
    keep, skipped = B.task_grid(B.PAPER_BENCHMARKS, B.PAPER_TABLE3_LANGUAGES)
    assert len(keep) == 12 and skipped == []
    # Okapi has no Czech, Japanese, Korean or Polish; English only in m_mmlu
    keep, skipped = B.task_grid(["arc", "mmlu"], B.CAPABILITY_LANGUAGES, strict=False)
    assert ("mmlu", "en") in keep and ("arc", "en") in skipped
    assert {lang for b, lang in skipped if b == "arc"} == {"cs", "en", "ja", "ko", "pl"}
    with pytest.raises(XdetoxError, match=r"do not exist: arc/ja"):
        B.task_grid(["arc"], ["ru", "ja"])
    with pytest.raises(XdetoxError, match=r"'arc' has no language 'ko' \(alexandrainst/m_arc has no config 'ko'\)"):
        B.resolve("arc", "ko")
    with pytest.raises(XdetoxError, match="unknown capability benchmark 'piqa'"):
        B.resolve("piqa", "ru")


def test_settings_override_the_protocol_and_are_checked():
    spec = B.resolve("arc", "ru", {"num_fewshot": 0, "split": "validation", "metric": "acc"})
    assert (spec.num_fewshot, spec.eval_split, spec.fewshot_split, spec.table_metric) == (0, "validation", None, "acc")
    assert spec.needed_splits == ("validation",)
    with pytest.raises(XdetoxError, match="needs a fewshot_split"):
        B.resolve("hellaswag", "ru", {"num_fewshot": 5})
    with pytest.raises(XdetoxError, match="split 'dev' is not a split of alexandrainst/m_mmlu"):
        B.resolve("mmlu", "ru", {"split": "dev"})
    with pytest.raises(XdetoxError, match="metric 'acc_norm' is not recorded"):
        B.resolve("mmlu", "ru", {"metric": "acc_norm"})
    with pytest.raises(XdetoxError, match="unknown setting"):
        B.resolve("arc", "ru", {"shots": 5})


def test_project_task_files_cover_every_language():
    names = {p.stem for p in TASKS_DIR.glob("*.yaml")}
    assert names == {"hellaswag_zh"} | {f"m_mmlu_fulltext_{lang}" for lang in B.M_MMLU_LANGUAGES}


def test_harness_knows_every_task_of_every_benchmark_language():
    pytest.importorskip("lm_eval")
    from xdetox.capability.harness import task_manager

    index = task_manager().task_index
    for bench in B.BENCHMARKS.values():
        for lang in bench.languages:
            name = bench.task_name(lang)
            assert name in index, name
            expected = "capability/tasks" if bench.task_source(lang) == "xdetox" else "lm_eval/tasks/okapi"
            assert expected in index[name].yaml_path.as_posix()


# ------------------------------------------------------------------------------------------- hellaswag_zh, MMLU

@pytest.mark.parametrize("ending, text", [
    ("太阳很大", "太阳很大"),
    ({"zh": "太阳", "en": "the sun"}, "太阳"),
    ('{"zh": "月亮", "en": "the moon"}', "月亮"),
    ("{'zh': '星星', 'en': 'a star'}", "星星"),
    ("{not a dict}", "{not a dict}"),
])
def test_zh_endings_are_normalised_to_chinese(ending, text):
    assert zh_ending(ending) == text


def test_zh_ending_without_chinese_is_an_error():
    with pytest.raises(ValueError, match="no 'zh' key"):
        zh_ending({"en": "only English"})
    row = normalize_hellaswag_row({"endings": [{"zh": "甲", "en": "a"}, "乙"], "label": 1})
    assert row["endings"] == ["甲", "乙"] and row["label"] == "1"


def test_full_text_mmlu_prompt_is_okapis():
    doc = mmlu_fulltext_doc({"instruction": "2+2=?", "option_a": "3", "option_b": "4", "option_c": "5",
                             "option_d": "22", "answer": "B"})
    assert doc["query"] == "Question: 2+2=?\nChoices:\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:"
    assert doc["choices"] == ["3", "4", "5", "22"] and doc["gold"] == 1


# ------------------------------------------------------------------------------------------------ local folder

def write(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


ARC_ROW = {"id": "q1", "instruction": "Why?", "option_a": "a", "option_b": "b", "option_c": "c", "option_d": "d",
           "answer": "A"}


def test_local_layout_and_missing_files_are_named(tmp_path):
    specs = [B.resolve("arc", "ru"), B.resolve("hellaswag", "zh-hans")]
    write(tmp_path / "m_arc" / "ru" / "test.jsonl", [ARC_ROW])
    with pytest.raises(XdetoxError) as err:
        D.check_local_files(tmp_path, specs)
    message = str(err.value)
    assert str(tmp_path / "m_arc" / "ru" / "train.jsonl") in message
    assert str(tmp_path / "m_hellaswag" / "zh" / "val.jsonl") in message
    assert "test.jsonl" not in message
    with pytest.raises(XdetoxError, match="data.capability.local_dir: folder .* does not exist"):
        D.check_local_files(tmp_path / "nowhere", specs)


def test_local_rows_are_checked_and_typed(tmp_path):
    arc = B.BENCHMARKS["arc"]
    bad = write(tmp_path / "bad.jsonl", [ARC_ROW, {k: v for k, v in ARC_ROW.items() if k != "answer"}])
    with pytest.raises(XdetoxError, match=r"bad.jsonl:2: missing field\(s\) answer"):
        D.read_rows(bad, arc, "ru")
    good = write(tmp_path / "good.jsonl", [{**ARC_ROW, "id": 7}])
    (row,) = D.read_rows(good, arc, "ru")
    assert row["option_e"] is None and row["id"] == "7"
    hs = B.BENCHMARKS["hellaswag"]
    hs_row = {"activity_label": "x", "ctx_a": "y", "ctx_b": "z", "endings": [{"zh": "甲", "en": "a"}, "乙"],
              "label": 0}
    (zh,) = D.read_rows(write(tmp_path / "zh.jsonl", [hs_row]), hs, "zh-hans")
    assert json.loads(zh["endings"][0]) == {"zh": "甲", "en": "a"} and zh["label"] == "0"
    with pytest.raises(XdetoxError, match="every ending must be text"):
        D.read_rows(write(tmp_path / "ru.jsonl", [hs_row]), hs, "ru")


def test_data_errors_come_before_any_model_load(tmp_path, monkeypatch):
    pytest.importorskip("lm_eval")
    from xdetox.capability import harness

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the data was checked")

    monkeypatch.setattr(harness, "load_model", no_model)
    write(tmp_path / "m_arc" / "ru" / "test.jsonl", [ARC_ROW])
    with pytest.raises(XdetoxError, match=r"m_arc/ru/train.jsonl \(arc/ru, split 'train'\)"):
        harness.evaluate_checkpoint(tmp_path / "no-model", [("arc", "ru")], local_dir=tmp_path)
    # a file that is there but unreadable is named too
    write(tmp_path / "m_arc" / "ru" / "train.jsonl", [ARC_ROW])
    (tmp_path / "m_arc" / "ru" / "test.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(XdetoxError, match=r"test.jsonl:1: invalid JSON"):
        harness.evaluate_checkpoint(tmp_path / "no-model", [("arc", "ru")], local_dir=tmp_path)


def test_unreachable_hub_dataset_is_named(tmp_path, monkeypatch):
    pytest.importorskip("lm_eval")
    import datasets.config

    from xdetox.capability import harness

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(harness, "load_model", lambda *a, **k: pytest.fail("model loaded before the data"))
    with pytest.raises(XdetoxError, match=r"hub dataset alexandrainst/m_hellaswag \(config 'vi'\); set "
                                          r"data.capability.local_dir"):
        harness.evaluate_checkpoint(tmp_path, [("hellaswag", "vi")], datasets_cache_dir=str(tmp_path / "cache"))


def test_export_from_hub_writes_the_local_layout(tmp_path, monkeypatch):
    import datasets

    calls = []

    def fake_load(path, name, cache_dir=None):
        calls.append((path, name))
        return datasets.DatasetDict({"test": datasets.Dataset.from_list([ARC_ROW]),
                                     "train": datasets.Dataset.from_list([ARC_ROW, ARC_ROW])})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    written = D.export_from_hub(tmp_path, ["mmlu_fulltext", "mmlu"], ["zh-hans", "ja"])
    # both MMLU variants read one dataset; ja is not in it
    assert calls == [("alexandrainst/m_mmlu", "zh")]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == ["m_mmlu/zh/test.jsonl",
                                                                          "m_mmlu/zh/train.jsonl"]
    spec = B.resolve("mmlu_fulltext", "zh-hans")
    assert D.check_local_files(tmp_path, [spec])[spec.key]["train"].read_text().count("\n") == 2
