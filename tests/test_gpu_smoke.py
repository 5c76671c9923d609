"""bench/gpu_smoke.py on CPU with tiny sizes: every part that can run here runs and passes its checks, QLoRA is
recorded as skipped (no CUDA), and the JSON carries the timings the GPU report needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_gpu_smoke_runs_on_cpu(tmp_path):
    out = tmp_path / "smoke.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_smoke.py"), "--device", "cpu", "--size", "tiny",
                           "--threads", "1", "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["ok"] is True
    parts = report["parts"]
    for name in ("dpo_full", "dpo_lora"):
        assert parts[name]["ran"] and parts[name]["ok"], parts[name]
        assert parts[name]["steps"] == report["sizes"]["dpo_steps"] and parts[name]["finite"]
    assert parts["dpo_lora"]["merge_ok"] and parts["dpo_lora"]["merged_dtypes"] == ["F32"]
    assert parts["qlora"] == {"ran": False, "skipped": "QLoRA needs CUDA"}
    sampling = parts["sampling"]
    assert all(sampling["checks"].values()), sampling["checks"]
    for side in ("hf_backend", "batched_generate"):
        assert sampling[side]["new_tokens"] > 0 and sampling[side]["tokens_per_s"] > 0
    assert report["environment"]["device"] == "cpu" and "bf16" in report["environment"]


def test_gpu_smoke_without_a_gpu_says_it_did_not_run(tmp_path):
    out = tmp_path / "smoke.json"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_smoke.py"), "--device", "cuda", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    assert json.loads(out.read_text())["error"].endswith("not run on GPU")
