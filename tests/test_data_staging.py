"""Inputs from outside the workflow are identified by content: digests ignore location and mtime, staged names map
back to their source through the config, and staging refuses a source that changed since planning."""

from __future__ import annotations

import os
import shutil

import pytest

from xdetox import XdetoxError
from xdetox.data.staging import digest, source_of, stage, staged_name


def make_folder(root, files):
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_digest_follows_the_bytes_not_the_path_or_mtime(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text('{"x": 1}\n')
    b = tmp_path / "elsewhere" / "b.jsonl"
    b.parent.mkdir()
    shutil.copyfile(a, b)
    os.utime(b, (1, 1))
    assert digest(a) == digest(b)
    b.write_text('{"x": 2}\n')
    assert digest(a) != digest(b)


def test_a_folder_digest_covers_names_and_contents_not_location(tmp_path):
    one = make_folder(tmp_path / "one", {"split_0.jsonl": "a\n", "sub/split_1.jsonl": "b\n"})
    two = tmp_path / "two"
    shutil.copytree(one, two, copy_function=shutil.copyfile)
    assert digest(one) == digest(two)
    (two / "sub/split_1.jsonl").rename(two / "sub/split_2.jsonl")
    assert digest(one) != digest(two)


def test_a_missing_source_is_named(tmp_path):
    with pytest.raises(XdetoxError, match="nothing-here.json: cannot read it"):
        digest(tmp_path / "nothing-here.json")


def test_staged_names_map_back_to_their_source(tmp_path, monkeypatch):
    monkeypatch.delenv("XDETOX_DATA_DIR", raising=False)
    config = {"data": {"local_dir": str(tmp_path / "data"), "prompts": {"path": str(tmp_path / "rtp")},
                       "pairs": {"path": str(tmp_path / "pairs")}},
              "interpret": {"probe": {"path": str(tmp_path / "probe.csv")}}}
    relpath = "rtp-lx/v0.2_raw/RTP_LX_DE.json"
    cases = {staged_name("data", tmp_path / "data" / relpath, relpath): tmp_path / "data" / relpath,
             staged_name("prompts", tmp_path / "rtp" / "RTP_LX_DE.json"): tmp_path / "rtp" / "RTP_LX_DE.json",
             staged_name("pairs", tmp_path / "pairs"): tmp_path / "pairs",
             staged_name("probe", tmp_path / "probe.csv"): tmp_path / "probe.csv"}
    assert list(cases) == [f"data/{relpath}", "prompts/RTP_LX_DE.json", "pairs/pairs", "probe/probe.csv"]
    for name, source in cases.items():
        assert source_of(config, name) == source
    # the environment variable wins over data.local_dir, as when planning
    monkeypatch.setenv("XDETOX_DATA_DIR", str(tmp_path / "moved"))
    assert source_of(config, f"data/{relpath}") == tmp_path / "moved" / relpath


@pytest.mark.parametrize("name, message", [
    ("pairs/other", "config key data.pairs.path is .*pairs, not a file or folder named 'other'"),
    ("probe/probe.csv", "config key interpret.probe.path is not set"),
    ("weights/x", "unknown kind 'weights'"),
    ("data", "expected <kind>/<name>"),
])
def test_a_name_that_does_not_fit_the_config_is_refused(tmp_path, name, message):
    config = {"data": {"pairs": {"path": str(tmp_path / "pairs")}}}
    with pytest.raises(XdetoxError, match=message):
        source_of(config, name)


def test_staging_copies_a_file_and_a_folder(tmp_path):
    src = tmp_path / "RTP_LX_DE.json"
    src.write_text("prompt\n", encoding="utf-8")
    out = tmp_path / "resources/inputs/prompts/RTP_LX_DE.json"
    assert stage(src, out, digest(src)) == digest(src)
    assert out.read_text(encoding="utf-8") == "prompt\n"
    folder = make_folder(tmp_path / "pairs", {"split_0.jsonl": "a\n", "split_1.jsonl": "b\n"})
    out_folder = tmp_path / "resources/inputs/folders/pairs/pairs"
    stage(folder, out_folder, digest(folder))
    assert digest(out_folder) == digest(folder)
    assert sorted(p.name for p in out_folder.iterdir()) == ["split_0.jsonl", "split_1.jsonl"]


def test_staging_refuses_a_source_changed_since_planning_and_leaves_nothing(tmp_path):
    src = tmp_path / "paradetox.tsv"
    src.write_text("a\tb\n", encoding="utf-8")
    planned = digest(src)
    src.write_text("a\tc\n", encoding="utf-8")
    out = tmp_path / "inputs" / "paradetox.tsv"
    with pytest.raises(XdetoxError, match="paradetox.tsv: its SHA-256 is .* as when the run was planned"):
        stage(src, out, planned)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_the_step_finds_the_source_through_the_config(tmp_path, monkeypatch):
    from xdetox.steps.data import stage_input_folder

    monkeypatch.delenv("XDETOX_DATA_DIR", raising=False)
    folder = make_folder(tmp_path / "toxicity_pairwise", {"split_0.jsonl": "{}\n"})
    config = {"data": {"pairs": {"path": str(folder)}}}
    out = tmp_path / "resources/inputs/folders/pairs/toxicity_pairwise"
    assert stage_input_folder(config, "pairs/toxicity_pairwise", str(out), digest(folder)) == digest(folder)
    assert (out / "split_0.jsonl").read_text() == "{}\n"
