import json

import pytest

from xdetox import XdetoxError
from xdetox.cache import file_sha256
from xdetox.data.fetch import manifest, resolve
from xdetox.data.pairs import filter_and_split, load_paradetox, load_toxicity_pairwise
from xdetox.data.prompts import find_in_folder, load_rtplx, rtplx_relpath, select


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rtplx_normalised(tmp_path):
    path = write_lines(tmp_path / "RTP_LX_DE.json", [
        json.dumps({"Prompt": "Ich hasse", "Index": "7", "Locale": "DE"}),
        json.dumps({"Prompt": "Danke", "Index": "8"}),
    ])
    assert load_rtplx(path, "de") == [{"id": "7", "lang": "de", "text": "Ich hasse"},
                                      {"id": "8", "lang": "de", "text": "Danke"}]


@pytest.mark.parametrize("line, message", [
    ("{not json", r"RTP_LX_EN.json:2: invalid JSON"),
    (json.dumps({"Index": "1"}), r"RTP_LX_EN.json:2: missing field\(s\) Prompt"),
    (json.dumps({"Prompt": "  ", "Index": "1"}), r"RTP_LX_EN.json: record 2: empty"),
    (json.dumps({"Prompt": "x", "Index": "0"}), r"duplicate Index '0'"),
])
def test_bad_prompt_records_name_file_and_line(tmp_path, line, message):
    path = write_lines(tmp_path / "RTP_LX_EN.json", [json.dumps({"Prompt": "ok", "Index": "0"}), line])
    with pytest.raises(XdetoxError, match=message):
        load_rtplx(path, "en")


def test_select_is_deterministic():
    records = [{"id": str(i)} for i in range(50)]
    assert select(records, 3) == records[:3]
    a, b = select(records, 5, "random", seed=1), select(records, 5, "random", seed=1)
    assert a == b and a != select(records, 5, "random", seed=2)
    assert [r["id"] for r in a] == sorted((r["id"] for r in a), key=int)  # file order kept
    assert select(records, None) == records


def test_locale_paths():
    assert rtplx_relpath("zh-hans", "v0.2") == "rtp-lx/v0.2_raw/RTP_LX_ZH-Hans.json"
    assert rtplx_relpath("ru", "v1x") == "rtp-lx/v0.2_raw/RTP_LX_RU.json"  # v1x has no Russian file
    assert rtplx_relpath("de", "v1x") == "rtp-lx/v1x_prompts/RTP_LX_DE.jsonl"


def test_find_in_folder_error(tmp_path):
    with pytest.raises(XdetoxError, match="no RTP_LX_PT.json"):
        find_in_folder(tmp_path, "pt")


def test_lee_pairs(tmp_path):
    path = write_lines(tmp_path / "split_0.jsonl", [
        json.dumps({"prompt_text": "You are", "unpert_gen_text": " kind", "pert_gen_text": " an idiot"}),
    ])
    assert load_toxicity_pairwise(tmp_path) == [
        {"id": "split_0:1", "prompt": "You are", "chosen": " kind", "rejected": " an idiot"}]
    write_lines(tmp_path / "split_1.jsonl", [json.dumps({"prompt_text": "x", "unpert_gen_text": "", "pert_gen_text": "y"})])
    with pytest.raises(XdetoxError, match=r"split_1.jsonl:1: field 'unpert_gen_text' is empty"):
        load_toxicity_pairwise(tmp_path)


def test_paradetox_pairs_share_the_prompt(tmp_path):
    path = write_lines(tmp_path / "p.tsv", [
        "toxic\tneutral1\tneutral2\tneutral3",
        "he had steel balls too !\the was brave too!\t\t",
        "totally different words\tnothing in common\t\t",
        "no paraphrase here\t\t\t",
    ])
    assert load_paradetox(path) == [
        {"id": "paradetox:2", "prompt": "he", "chosen": " was brave too!", "rejected": " had steel balls too !"}]


def test_filter_and_split():
    pairs = [{"id": str(i), "prompt": "p" * 10, "chosen": "c" * (i % 7), "rejected": "r"} for i in range(1, 101)]
    pairs.append({"id": "long", "prompt": "p" * 250, "chosen": "c" * 10, "rejected": "r"})
    train, val = filter_and_split(pairs, max_chars=256, val_fraction=0.05, seed=0)
    ids = {p["id"] for p in train} | {p["id"] for p in val}
    assert "long" not in ids and len(ids) == 100 and len(val) == 5
    assert not {p["id"] for p in train} & {p["id"] for p in val}
    assert filter_and_split(pairs, 256, 0.05, 0) == (train, val)
    with pytest.raises(XdetoxError, match="only 0 preference pair"):
        filter_and_split(pairs, max_chars=5, val_fraction=0.05, seed=0)


def test_local_data_resolution(tmp_path):
    (tmp_path / "paradetox").mkdir()
    (tmp_path / "paradetox" / "paradetox.tsv").write_text("toxic\n")
    assert resolve("paradetox/paradetox.tsv", str(tmp_path), tmp_path / "dl").read_text() == "toxic\n"
    with pytest.raises(XdetoxError, match="not found in the local data folder"):
        resolve("rtp-lx/v0.2_raw/RTP_LX_EN.json", str(tmp_path), tmp_path / "dl")


def test_every_pinned_source_has_a_checksum_and_commit_url():
    for rel, spec in manifest().items():
        assert len(spec["sha256"]) == 64
        if spec["url"]:
            assert spec["url"].startswith("https://") and any(len(part) == 40 for part in spec["url"].split("/"))


def test_shared_data_matches_pins(shared_data):
    for rel in ("rtp-lx/v0.2_raw/RTP_LX_EN.json", "paradetox/paradetox.tsv"):
        assert file_sha256(shared_data / rel) == manifest()[rel]["sha256"]
