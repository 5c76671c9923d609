import json

import pytest

from xdetox import XdetoxError
from xdetox.cache import file_sha256
from xdetox.data.fetch import manifest, resolve
from xdetox.data.pairs import drop_degenerate, filter_and_split, load_paradetox, load_toxicity_pairwise
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
    (json.dumps({"Prompt": "  ", "Index": "1"}), r"RTP_LX_EN.json:2: record 2: empty"),
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
    pairs = [{"id": str(i), "prompt": f"{i:03d}" + "p" * 7, "chosen": "c" * (i % 7), "rejected": "r"}
             for i in range(1, 101)]
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


# ---------------------------------------------------------------------------------------------- encodings


def lee_record(chosen=" kind", rejected=" an idiot", prompt="You are"):
    return json.dumps({"prompt_text": prompt, "unpert_gen_text": chosen, "pert_gen_text": rejected},
                      ensure_ascii=False)


@pytest.mark.parametrize("encode, says", [
    (lambda text: text.encode("latin-1"), r"split_0.jsonl:2: not valid UTF-8 \(byte 0xe9 .*Latin-1"),
    (lambda text: text.encode("utf-16"), r"split_0.jsonl:1: the file is UTF-16 \(it starts with a UTF-16 byte-order"),
    (lambda text: text.encode("utf-16-le"), r"split_0.jsonl:1: the file contains NUL bytes: it is probably UTF-16"),
    (lambda text: text.encode("utf-8").replace("é".encode(), b"\xc3"), r"split_0.jsonl:2: not valid UTF-8"),
])
def test_pairs_in_another_encoding_name_file_and_line(tmp_path, encode, says):
    text = lee_record() + "\n" + lee_record(chosen=" café") + "\n"
    (tmp_path / "split_0.jsonl").write_bytes(encode(text))
    with pytest.raises(XdetoxError, match=says):
        load_toxicity_pairwise(tmp_path)


def test_a_lone_surrogate_names_file_line_and_field(tmp_path):
    path = tmp_path / "split_0.jsonl"
    path.write_text(lee_record() + "\n\n" + lee_record().replace(" kind", " ki\\ud83dnd") + "\n", encoding="utf-8")
    with pytest.raises(XdetoxError, match=r"split_0.jsonl:3: field unpert_gen_text holds a lone surrogate"):
        load_toxicity_pairwise(tmp_path)
    path.write_text(lee_record().replace(" kind", " \\ud83d\\ude00 paired") + "\n", encoding="utf-8")
    assert load_toxicity_pairwise(tmp_path)[0]["chosen"] == " \U0001F600 paired"


def test_prompts_in_latin1_or_utf16_name_file_and_line(tmp_path):
    path = tmp_path / "RTP_LX_FR.json"
    path.write_bytes((json.dumps({"Prompt": "ok", "Index": "0"}) + "\n" +
                      json.dumps({"Prompt": "déjà", "Index": "1"}, ensure_ascii=False) + "\n").encode("latin-1"))
    with pytest.raises(XdetoxError, match=r"RTP_LX_FR.json:2: not valid UTF-8"):
        load_rtplx(path, "fr")
    path.write_bytes((json.dumps({"Prompt": "ok", "Index": "0"}) + "\n").encode("utf-16"))
    with pytest.raises(XdetoxError, match=r"RTP_LX_FR.json:1: the file is UTF-16"):
        load_rtplx(path, "fr")
    path.write_text(json.dumps({"Prompt": "ok", "Index": "0"}) + "\n" + '{"Prompt": "a\\udc00", "Index": "1"}\n')
    with pytest.raises(XdetoxError, match=r"RTP_LX_FR.json:2: field Prompt holds a lone surrogate"):
        load_rtplx(path, "fr")


def test_blank_lines_keep_line_numbers_true_and_ids_stable(tmp_path):
    path = write_lines(tmp_path / "RTP_LX_EN.json", [json.dumps({"Prompt": "a"}), "", json.dumps({"Prompt": " "})])
    with pytest.raises(XdetoxError, match=r"RTP_LX_EN.json:3: record 2: empty"):
        load_rtplx(path, "en")
    path = write_lines(tmp_path / "RTP_LX_EN.json", [json.dumps({"Prompt": "a"}), "", json.dumps({"Prompt": "b"})])
    assert [r["id"] for r in load_rtplx(path, "en")] == ["0", "1"]


def test_paradetox_in_latin1_names_file_and_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes("toxic\tneutral1\nhe is bad\the is nice\nça va mal\tça va\n".encode("latin-1"))
    with pytest.raises(XdetoxError, match=r"p.tsv:3: not valid UTF-8"):
        load_paradetox(path)


# ---------------------------------------------------------------------------------------------- degenerate pairs


def test_identical_and_duplicate_pairs_are_dropped_with_a_count(caplog):
    pairs = [{"id": str(i), "prompt": f"prompt {i}", "chosen": f" good {i}", "rejected": f" bad {i}"}
             for i in range(40)]
    pairs.append({"id": "same", "prompt": "p", "chosen": " same  words\n", "rejected": "same words"})
    pairs.append({"id": "again", **{k: pairs[3][k] for k in ("prompt", "chosen", "rejected")}})
    pairs.append({"id": "near", "prompt": "prompt 3", "chosen": " good 3", "rejected": " bad 3 "})  # not exact: kept
    with caplog.at_level("WARNING", logger="xdetox.data"):
        kept = drop_degenerate(pairs)
    assert [p["id"] for p in kept] == [str(i) for i in range(40)] + ["near"]
    assert "dropped 2 of 43: 1 with chosen == rejected" in caplog.text and "1 exact duplicate" in caplog.text
    train, val = filter_and_split(pairs, max_chars=256, val_fraction=0.1, seed=0)
    assert {p["id"] for p in train + val} == {p["id"] for p in kept}


def test_too_many_degenerate_pairs_is_an_error():
    pairs = [{"id": str(i), "prompt": "p", "chosen": f" c{i % 5}", "rejected": f" r{i % 5}"} for i in range(20)]
    with pytest.raises(XdetoxError, match=r"15 of 20 \(75.0%\) are degenerate .* more than the allowed 10.0%"):
        filter_and_split(pairs, max_chars=256, val_fraction=0.1, seed=0)
    assert len(drop_degenerate(pairs, max_dropped_fraction=0.8)) == 5


def test_the_pairs_step_takes_its_threshold_from_the_config(tmp_path, caplog):
    """data.pairs.max_dropped_fraction reaches the pairs job: 3 of 12 identical pairs stop it at the default 10 %,
    and at 30 % they are dropped, counted in the log, and absent from train and validation."""
    from helpers import config
    from xdetox.io import read_jsonl
    from xdetox.steps.data import pairs as pairs_step

    rows = [{"prompt_text": f"p{i}", "unpert_gen_text": f" good {i}", "pert_gen_text": f" bad {i}"} for i in range(9)]
    rows += [{"prompt_text": f"q{i}", "unpert_gen_text": " same", "pert_gen_text": " same"} for i in range(3)]
    source = write_lines(tmp_path / "pairs.jsonl", [json.dumps(r) for r in rows])
    settings = config(data={"pairs": {"path": str(source)}})["data"]["pairs"]
    assert settings["max_dropped_fraction"] == 0.1
    with pytest.raises(XdetoxError, match=r"3 of 12 \(25.0%\) are degenerate"):
        pairs_step(str(source), tmp_path / "train.jsonl", tmp_path / "val.jsonl", settings)
    assert not (tmp_path / "train.jsonl").exists()
    settings = config(data={"pairs": {"path": str(source), "max_dropped_fraction": 0.3}})["data"]["pairs"]
    with caplog.at_level("INFO", logger="xdetox"):
        n_train, n_val = pairs_step(str(source), tmp_path / "train.jsonl", tmp_path / "val.jsonl", settings)
    assert "dropped 3 of 12: 3 with chosen == rejected" in caplog.text
    kept = read_jsonl(tmp_path / "train.jsonl") + read_jsonl(tmp_path / "val.jsonl")
    assert n_train + n_val == len(kept) == 9 and all(p["chosen"] != p["rejected"] for p in kept)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_max_dropped_fraction_outside_0_1_is_refused(value):
    from helpers import config

    with pytest.raises(XdetoxError, match="config key data.pairs.max_dropped_fraction"):
        config(data={"pairs": {"max_dropped_fraction": value}})
