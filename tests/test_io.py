import pytest

from xdetox.io import atomic_dir, atomic_open, read_jsonl, write_jsonl


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
