"""Scorer preflight: every config problem named at once, one real request for a remote scorer, none when a check
before it failed or when probing is off, and no torch import (it runs while planning)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perspective_server import PerspectiveServer, closed_port_url
from xdetox import XdetoxError
from xdetox.scoring.perspective import KEY_ENV
from xdetox.scoring.preflight import MODE_ENV, PROBE_TEXT, PreflightError, check_cache, preflight, preflight_mode

pytestmark = pytest.mark.timeout(60)

KEY = "sk-preflight-3141"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with PerspectiveServer(key=KEY) as srv:
        yield srv


def scoring(tmp_path, endpoint, **perspective):
    return {"scorers": ["perspective"], "perspective": {"endpoint": endpoint, "backoff_base": 0.01, **perspective}}


def cache_in(tmp_path):
    return tmp_path / "cache" / "scores.sqlite"


def test_a_working_setup_passes_with_exactly_one_request(tmp_path, server):
    lines = preflight(scoring(tmp_path, server.url), cache_path=cache_in(tmp_path))
    assert server.texts() == [PROBE_TEXT]
    assert any("probe" in line for line in lines) and any("will be created" in line for line in lines)
    assert not (tmp_path / "cache").exists()  # planning creates nothing


def test_probe_off_sends_nothing(tmp_path, server):
    preflight(scoring(tmp_path, server.url), cache_path=cache_in(tmp_path), probe=False)
    assert server.count() == 0


@pytest.mark.parametrize("change, names", [
    ({"endpoint": "https://example.org/x?key=1"}, "scoring.perspective.endpoint"),
    ({"endpoint": "ftp://example.org/x"}, "scoring.perspective.endpoint"),
    ({"attributes": []}, "scoring.perspective.attributes"),
    ({"attributes": ["INSULT", "THREAT"]}, "scoring.perspective.attributes"),
    ({"rate": float("nan")}, "scoring.perspective.rate"),
])
def test_config_errors_are_named_and_send_nothing(tmp_path, server, change, names):
    config = scoring(tmp_path, server.url)
    config["perspective"].update(change)
    with pytest.raises(PreflightError, match=names.replace(".", r"\.")):
        preflight(config, cache_path=cache_in(tmp_path))
    assert server.count() == 0


def test_a_missing_key_is_named_and_sends_nothing(tmp_path, server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(PreflightError, match=KEY_ENV):
        preflight(scoring(tmp_path, server.url), cache_path=cache_in(tmp_path))
    assert server.count() == 0


def test_a_damaged_cache_is_named_before_the_probe(tmp_path, server):
    config, cache = scoring(tmp_path, server.url), cache_in(tmp_path)
    cache.parent.mkdir()
    cache.write_bytes(b"garbage" * 1000)
    with pytest.raises(PreflightError) as info:
        preflight(config, cache_path=cache)
    assert str(cache) in str(info.value) and "resources_dir" in str(info.value)
    assert server.count() == 0  # probes come last, and only when every local check passed


def test_every_problem_is_reported_at_once(tmp_path, server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    config = {"scorers": ["perspective", "hf-classifier", "detoxify", "nonsense"],
              "perspective": {"endpoint": server.url},
              "hf_classifier": {"model": "./no/such/model"}, "detoxify": {"checkpoint": None}}
    with pytest.raises(PreflightError) as info:
        preflight(config, cache_path=tmp_path)
    message = str(info.value)
    for named in (KEY_ENV, "scoring.hf_classifier.model", "scoring.detoxify.checkpoint", "'nonsense'",
                  "is a folder"):
        assert named in message
    assert server.count() == 0


@pytest.mark.parametrize("fault", ["refused", "403", "bool"])
def test_a_failing_probe_stops_the_run_in_seconds_with_the_reason(tmp_path, server, fault):
    url = closed_port_url() if fault == "refused" else server.url
    if fault != "refused":
        server.inject(fault)
    started = time.monotonic()
    with pytest.raises(PreflightError) as info:
        preflight(scoring(tmp_path, url), cache_path=cache_in(tmp_path))
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "probe request" in message and "scoring.perspective.endpoint" in message
    reason = {"refused": "connection refused", "403": "HTTP 403", "bool": "JSON boolean"}[fault]
    assert reason in message
    if fault == "403":
        assert server.count() == 2  # one request, one confirmation
    if fault == "bool":
        assert server.count() == 3  # transient: max_retries capped at 2 for the probe


def test_an_existing_cache_is_checked_for_integrity_and_writability(tmp_path):
    from xdetox.scoring.base import Score
    from xdetox.scoring.cache import ScoreCache

    path = tmp_path / "c.sqlite"
    with ScoreCache(path) as cache:
        cache.put("k", Score(0.5), scorer="s", version="v", lang="en")
    assert "intact and writable (1 scores)" in check_cache(path)
    with pytest.raises(XdetoxError, match="not a writable folder"):
        check_cache(tmp_path / "c.sqlite" / "inside-a-file" / "x.sqlite")


def test_preflight_imports_no_torch(tmp_path):
    config = {"scorers": ["perspective", "hf-classifier", "detoxify", "lexicon"],
              "perspective": {"endpoint": "http://127.0.0.1:9/v1alpha1/comments:analyze"},
              "hf_classifier": {"model": "textdetox/xlmr-large-toxicity-classifier-v2"},
              "detoxify": {"checkpoint": __file__}}
    code = ("import json, sys\n"
            "from xdetox.scoring.preflight import preflight\n"
            f"preflight(json.loads({json.dumps(json.dumps(config))}), cache_path={str(tmp_path / 'c.sqlite')!r}, probe=False)\n"
            "heavy = sorted(m for m in ('torch', 'transformers', 'detoxify', 'numpy') if m in sys.modules)\n"
            "print(heavy)\n")
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_mode_comes_from_the_environment_over_the_config():
    assert preflight_mode({}, environ={}) == "full"
    assert preflight_mode({"preflight": "local"}, environ={}) == "local"
    assert preflight_mode({"preflight": "full"}, environ={MODE_ENV: " off "}) == "off"
    assert preflight_mode({"preflight": "off"}, environ={MODE_ENV: ""}) == "off"
    with pytest.raises(PreflightError, match=f"environment variable {MODE_ENV}: 'none' is not one of full, local, off"):
        preflight_mode({}, environ={MODE_ENV: "none"})
    with pytest.raises(PreflightError, match="config key scoring.preflight: 'yes'"):
        preflight_mode({"preflight": "yes"}, environ={})


# ---- in the workflow: local checks while planning, the probe when a run starts --------------------------------------
def perspective_workflow(tmp_path, tiny_model_dir, shared_data, endpoint, **scoring_settings):
    from helpers import tiny_workflow_config, write_config

    config = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=("en",),
                                  scoring={"scorers": ["perspective"], "perspective": {"endpoint": endpoint},
                                           **scoring_settings})
    write_config(tmp_path / "config.yaml", config)
    return tmp_path


@pytest.mark.timeout(300)
def test_the_workflow_checks_while_planning_and_probes_only_when_a_run_starts(tmp_path, tiny_model_dir, shared_data,
                                                                             server):
    from helpers import snakemake

    work = perspective_workflow(tmp_path, tiny_model_dir, shared_data, server.url)
    target = "resources/data/prompts/en.jsonl"
    # a dry run: local checks pass, nothing is sent
    assert snakemake(work, "-n", target, env={KEY_ENV: KEY}).returncode == 0
    assert server.count() == 0
    # a missing key stops planning with one message, no Python traceback, nothing sent
    out = snakemake(work, "-n", target, env={KEY_ENV: ""}, check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and f"environment variable {KEY_ENV} is not set" in text
    assert "Traceback" not in text and server.count() == 0
    # ... unless preflight is off for this command (offline planning)
    assert snakemake(work, "-n", target, env={KEY_ENV: "", "XDETOX_PREFLIGHT": "off"}).returncode == 0
    # a wrong key: the run stops at the probe, before any job, in seconds
    started = time.monotonic()
    out = snakemake(work, "--cores", "1", target, env={KEY_ENV: "sk-wrong-key-2718"}, check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "the probe request to" in text and "scoring.perspective.endpoint" in text
    assert "sk-wrong-key-2718" not in text and "Traceback" not in text, text[-3000:]
    assert 1 <= server.count() <= 2 and not (work / target).exists()
    assert time.monotonic() - started < 60
    # the right key: exactly one probe request, then the jobs run
    server.clear()
    snakemake(work, "--cores", "1", target, env={KEY_ENV: KEY})
    assert server.texts() == [PROBE_TEXT] and (work / target).exists()
    # preflight local: the run starts without a request
    server.clear()
    snakemake(work, "--cores", "1", target, "--forcerun", "prompts", env={KEY_ENV: KEY, "XDETOX_PREFLIGHT": "local"})
    assert server.count() == 0


def test_a_local_classifiers_unknown_label_is_named_before_any_job(tmp_path):
    model = tmp_path / "classifier"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"id2label": {"0": "neutral", "1": "toxic"}}), encoding="utf-8")
    config = {"scorers": ["hf-classifier"], "hf_classifier": {"model": str(model), "toxic_label": "hateful"}}
    with pytest.raises(PreflightError, match=r"toxic_label: 'hateful' is not a label .*0='neutral', 1='toxic'"):
        preflight(config, cache_path=tmp_path / "c.sqlite", probe=False)
    config["hf_classifier"]["toxic_label"] = "TOXIC"
    lines = preflight(config, cache_path=tmp_path / "c.sqlite", probe=False)
    assert any("toxic label 1='toxic'" in line for line in lines)
