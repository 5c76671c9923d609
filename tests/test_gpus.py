"""GPU slots: concurrent jobs on one machine (a fake GPU list) never share a GPU; a dead holder frees its GPUs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from itertools import combinations
from pathlib import Path

import pytest

from xdetox import XdetoxError
from xdetox.gpus import gpu_slots, machine_gpus

SRC = Path(__file__).resolve().parents[1] / "src"

#: one job: take k slots, record what it sees and when, hold them a while
JOB = textwrap.dedent("""
    import json, os, sys, time
    from xdetox.gpus import gpu_slots
    k, out, hold = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    with gpu_slots(k, poll=0.02, label=out) as held:
        t0 = time.time()
        seen = os.environ["CUDA_VISIBLE_DEVICES"]
        time.sleep(hold)
        t1 = time.time()
    with open(out, "w") as f:
        json.dump({"k": k, "held": held, "seen": seen, "t0": t0, "t1": t1}, f)
""")


def _env(tmp_path: Path, gpus: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update({"PYTHONPATH": str(SRC), "XDETOX_GPUS": gpus, "XDETOX_GPU_LOCK_DIR": str(tmp_path / "locks")})
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def test_concurrent_jobs_never_share_a_gpu(tmp_path):
    env = _env(tmp_path, "0,1,2")
    ks = [1, 2, 1, 1, 2, 1, 3, 1]
    procs = [subprocess.Popen([sys.executable, "-c", JOB, str(k), str(tmp_path / f"job{i}.json"), "0.3"], env=env)
             for i, k in enumerate(ks)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    jobs = [json.loads((tmp_path / f"job{i}.json").read_text()) for i in range(len(ks))]
    for job in jobs:
        assert job["seen"] == ",".join(job["held"])
        assert len(set(job["held"])) == job["k"] and set(job["held"]) <= {"0", "1", "2"}
    overlapping = 0
    for a, b in combinations(jobs, 2):
        if a["t0"] < b["t1"] and b["t0"] < a["t1"]:  # held at the same time
            overlapping += 1
            assert not set(a["held"]) & set(b["held"]), (a, b)
    assert overlapping, "no two jobs ever ran together: the test did not exercise concurrency"


def test_a_killed_holder_frees_its_gpus(tmp_path):
    env = _env(tmp_path, "0,1")
    ready = tmp_path / "ready"
    holder = textwrap.dedent(f"""
        import time
        from xdetox.gpus import gpu_slots
        with gpu_slots(2):
            open({str(ready)!r}, "w").close()
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], env=env)
    deadline = time.time() + 60
    while not ready.exists():
        assert proc.poll() is None and time.time() < deadline, "the holder never took its slots"
        time.sleep(0.05)
    with pytest.raises(XdetoxError, match="no 1 free GPU"):
        with gpu_slots(1, gpus=["0", "1"], lock_dir=tmp_path / "locks", timeout=0.3, poll=0.05, environ={}):
            pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    env_after: dict = {}
    with gpu_slots(2, gpus=["0", "1"], lock_dir=tmp_path / "locks", timeout=5, poll=0.05, environ=env_after) as held:
        assert sorted(held) == ["0", "1"]
        assert env_after["CUDA_VISIBLE_DEVICES"] in ("0,1", "1,0")
    assert "CUDA_VISIBLE_DEVICES" not in env_after


def test_all_or_nothing_and_release_on_exit(tmp_path):
    locks = tmp_path / "locks"
    outer: dict = {}
    with gpu_slots(1, gpus=["a", "b"], lock_dir=locks, environ=outer) as first:
        assert first == ["a"]
        # one GPU is free, two are asked for: nothing is taken, so the free one stays usable
        with pytest.raises(XdetoxError, match="no 2 free GPU"):
            with gpu_slots(2, gpus=["a", "b"], lock_dir=locks, timeout=0.2, poll=0.05, environ={}):
                pass
        with gpu_slots(1, gpus=["a", "b"], lock_dir=locks, timeout=1, environ={}) as second:
            assert second == ["b"]
    with gpu_slots(2, gpus=["a", "b"], lock_dir=locks, timeout=1, environ={}) as both:
        assert both == ["a", "b"]


def test_cpu_job_sees_no_gpu_and_environment_is_restored():
    env = {"CUDA_VISIBLE_DEVICES": "0,1"}
    with gpu_slots(0, environ=env) as held:
        assert held == [] and env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_more_gpus_than_the_machine_has_is_an_error(tmp_path):
    with pytest.raises(XdetoxError, match=r"needs 3 GPU\(s\) but 2 are available"):
        with gpu_slots(3, gpus=["0", "1"], lock_dir=tmp_path, environ={}):
            pass


def test_slurm_step_keeps_its_allocation(tmp_path):
    env = {"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0", "CUDA_VISIBLE_DEVICES": "3"}
    with gpu_slots(1, gpus=["0"], lock_dir=tmp_path / "locks", environ=env) as held:
        assert held == ["3"] and env["CUDA_VISIBLE_DEVICES"] == "3"
    assert not (tmp_path / "locks").exists()


def test_machine_gpus_sources():
    assert machine_gpus({"XDETOX_GPUS": "2,3", "CUDA_VISIBLE_DEVICES": "0"}) == ["2", "3"]
    assert machine_gpus({"CUDA_VISIBLE_DEVICES": "0, 2"}) == ["0", "2"]
    assert machine_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_job_log_holds_the_rules_gpus_and_hides_the_rest(tmp_path, monkeypatch):
    from xdetox.logs import job_log

    monkeypatch.setenv("XDETOX_GPUS", "0,1")
    monkeypatch.setenv("XDETOX_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with job_log(tmp_path / "a.log", 1, "dpo"):
        seen = os.environ["CUDA_VISIBLE_DEVICES"]
        with job_log(tmp_path / "b.log", 1, "generate"):
            other = os.environ["CUDA_VISIBLE_DEVICES"]
    assert {seen, other} == {"0", "1"}
    assert "holding GPU(s)" in (tmp_path / "a.log").read_text()
    with job_log(tmp_path / "c.log", 0, "score"):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_every_script_passes_its_gpu_resource_to_job_log():
    from pathlib import Path

    scripts = sorted((Path(__file__).resolve().parents[1] / "workflow" / "scripts").glob("*.py"))
    missing = [p.name for p in scripts
               if 'job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule)' not in p.read_text()]
    assert scripts and not missing
