"""The profiles: the always-loaded workflow profile (profiles/default) must not override an executor profile."""

from __future__ import annotations

import pytest
from snakemake.cli import parse_args

from helpers import REPO


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_slurm_profile_has_no_gpu_cap_and_keeps_its_settings(in_repo):
    _, args = parse_args(["--profile", "profiles/slurm", "-n"])
    assert "gpu" not in (args.resources or {})
    assert args.resources["perspective_api"] == 1
    assert args.keep_going is True
    assert args.latency_wait == 60


def test_workstation_profile_caps_gpus(in_repo):
    _, args = parse_args(["--profile", "profiles/workstation", "-n"])
    assert args.resources["gpu"] == 1 and args.resources["perspective_api"] == 1


def test_no_profile_sets_no_gpu_cap(in_repo):
    _, args = parse_args(["-n"])
    assert "gpu" not in (args.resources or {})
    assert args.rerun_incomplete is True
