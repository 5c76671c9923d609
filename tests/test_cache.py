"""The content cache: keys, complete entries only, one compute call for every missing item, the namespace lock."""

from __future__ import annotations

import threading
import time

from xdetox.cache import ContentCache, code_fingerprint, content_key, files_digest, materialize


def key_fn(name, item):
    ingredients = {"name": name, "item": item}
    return content_key(ingredients), ingredients


class Computer:
    def __init__(self, delay=0.0):
        self.calls, self.delay = [], delay

    def __call__(self, missing):
        self.calls.append(sorted(missing))
        time.sleep(self.delay)
        return {name: [{"name": name, "value": item}] for name, item in missing.items()}


def test_ensure_computes_only_the_missing_items_in_one_call(tmp_path):
    cache, compute = ContentCache(tmp_path, "m/base"), Computer()
    first = cache.ensure({"a": 1, "b": 2}, key_fn, compute)
    assert compute.calls == [["a", "b"]] and all(e.computed for e in first.values())
    again = cache.ensure({"a": 1, "b": 3, "c": 4}, key_fn, compute)
    assert compute.calls[1] == ["b", "c"] and not again["a"].computed and again["b"].computed
    assert cache.meta("c", again["c"].key)["computed_with"] == ["b", "c"]
    assert again["a"].path.read_text() == '{"name": "a", "value": 1}\n'


def test_get_hits_or_computes_with_the_missing_companions(tmp_path):
    cache, compute = ContentCache(tmp_path), Computer()
    entry = cache.get("a", 1, key_fn, compute, companions={"a": 1, "b": 2})
    assert entry.computed and compute.calls == [["a", "b"]]
    assert not cache.get("b", 2, key_fn, compute).computed and len(compute.calls) == 1
    out = tmp_path / "out" / "b.jsonl"
    materialize(cache.get("b", 2, key_fn, compute).path, out)
    assert out.read_text() == '{"name": "b", "value": 2}\n'


def test_a_truncated_entry_is_not_a_hit(tmp_path):
    cache, compute = ContentCache(tmp_path), Computer()
    entry = cache.ensure({"a": "x" * 50}, key_fn, compute)["a"]
    entry.path.write_text(entry.path.read_text()[:-10])
    assert cache.lookup("a", entry.key) is None
    assert cache.ensure({"a": "x" * 50}, key_fn, compute)["a"].computed


def test_concurrent_jobs_of_one_namespace_compute_once(tmp_path):
    compute = Computer(delay=0.3)
    results = []

    def job(name):
        results.append(ContentCache(tmp_path, "m/base").get(name, name, key_fn, compute, {"a": "a", "b": "b"}))

    threads = [threading.Thread(target=job, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert compute.calls == [["a", "b"]]  # the second job waited for the lock, then found its entry
    assert sorted(e.computed for e in results) == [False, True]


def test_fingerprints_follow_names_and_bytes(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("x")
    b.write_text("y")
    assert files_digest([a, b]) != files_digest([b, a])
    before = code_fingerprint([a], ["numpy"])
    a.write_text("x # edited")
    assert code_fingerprint([a], ["numpy"]) != before
