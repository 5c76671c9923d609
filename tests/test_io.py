import pytest

from xdetox import XdetoxError
from xdetox.io import atomic_dir, atomic_open, read_json, read_jsonl, read_text, write_jsonl


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"a": 1}])
    with pytest.raises(RuntimeError):
        with atomic_open(path) as handle:
            handle.write('{"a": 2}\n')
            raise RuntimeError("killed")
    assert read_jsonl(path) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_rewrite_replaces_never_appends(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"a": 1}, {"a": 2}])
    write_jsonl(path, [{"a": 3}])
    assert read_jsonl(path) == [{"a": 3}]


def test_atomic_dir(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "w.bin").write_text("x")
        assert not target.exists()
    assert (target / "w.bin").read_text() == "x"
    with pytest.raises(ValueError):
        with atomic_dir(target) as tmp:
            (tmp / "partial").write_text("y")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["w.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("data, says", [
    (b'{"a": 1}\n{"a": "caf\xe9"}\n', r"f.jsonl:2: not valid UTF-8 \(byte 0xe9 at column 11\); it looks like Latin-1"),
    ('{"a": 1}\n'.encode("utf-16"), r"f.jsonl:1: the file is UTF-16 \(it starts with a UTF-16 byte-order mark\)"),
    ('{"a": 1}\n'.encode("utf-32"), r"f.jsonl:1: the file is UTF-32"),
    ('{"a": 1}\n'.encode("utf-16-be"), r"f.jsonl:1: the file contains NUL bytes"),
    (b'{"a": 1}\n\n{"a": "x\\udfffy"}\n', r"f.jsonl:3: field a holds a lone surrogate"),
    (b'{"a": {"b": ["ok", "\\ud800"]}}\n', r"f.jsonl:1: field a.b\[1\] holds a lone surrogate"),
    (b'{"a": 1}\n{"a": 1\n', r"f.jsonl:2: invalid JSON"),
])
def test_read_jsonl_names_file_and_line_for_every_encoding_problem(tmp_path, data, says):
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    with pytest.raises(XdetoxError, match=says) as info:
        read_jsonl(path)
    str(info.value).encode("utf-8")  # the message itself can be printed


def test_read_jsonl_accepts_utf8_with_bom_crlf_and_surrogate_pairs(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": "\\ud83d\\ude00"}\r\n\r\n{"a": "\xc3\xa9"}\r\n')
    assert read_jsonl(path) == [{"a": "\U0001F600"}, {"a": "é"}]


def test_read_text_and_read_json_name_the_line(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b'{\n "a": 1,\n "b": "\xff"\n}\n')
    with pytest.raises(XdetoxError, match=r"f.json:3: not valid UTF-8"):
        read_json(path)
    with pytest.raises(XdetoxError, match=r"f.json:3: not valid UTF-8"):
        read_text(path)
