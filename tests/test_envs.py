"""The conda environments (envs/*.yaml, used with --sdm conda): installable from Snakemake's copy, pins in sync."""

from __future__ import annotations

import re
import tomllib

import yaml

from helpers import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))


def pip_entries(path) -> list[str]:
    deps = yaml.safe_load(path.read_text(encoding="utf-8"))["dependencies"]
    return [entry for dep in deps if isinstance(dep, dict) for entry in dep.get("pip", [])]


def specs(entries) -> dict[str, str]:
    out = {}
    for entry in entries:
        name, spec = re.match(r"([A-Za-z0-9_.-]+)(.*)", entry).groups()
        out[name.lower()] = spec
    return out


def test_no_env_installs_a_relative_or_editable_path():
    # Snakemake copies each env file to .snakemake/conda/<hash>.yaml, where a relative path means another folder
    assert ENVS
    for path in ENVS:
        for entry in pip_entries(path):
            assert not entry.startswith(("-e", ".", "/", "file:")) and "@" not in entry, (path.name, entry)


def test_core_and_qlora_envs_pin_what_pyproject_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {k: v for k, v in specs(project["dependencies"]).items() if k != "snakemake"}
    assert specs(pip_entries(REPO / "envs" / "core.yaml")) == runtime
    qlora = specs(pip_entries(REPO / "envs" / "qlora.yaml"))
    assert qlora == {**runtime, **specs(project["optional-dependencies"]["qlora"])}
    assert "bitsandbytes" in qlora and "bitsandbytes" not in runtime
