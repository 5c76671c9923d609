"""What the tests share besides fixtures: validated config sections, the tiny workflow config, running Snakemake.

Defaults live in the config schema only, so a test that needs settings builds them through validate_config.
"""

from __future__ import annotations

import json

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from xdetox.config import validate_config
from xdetox.generation.base import Sampling

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XDETOX_DATA_DIR") or REPO.parent / "shared" / "data")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PNG = b"\x89PNG\r\n\x1a\n"


def config(**sections) -> dict:
    """A validated config (defaults filled) with one local model and the given sections merged in."""
    raw = {"models": {"m": {"source": "path", "path": str(REPO), "family": "gpt2"}}}
    raw.update(sections)
    return validate_config(raw)


def generation(**settings) -> dict:
    """The `generation` section with the schema's defaults and `settings`."""
    return config(generation=settings)["generation"]


def sampling(**settings) -> Sampling:
    return Sampling.from_config(generation(**settings))


def scoring(**settings) -> dict:
    return config(scoring=settings)["scoring"]


def tiny_workflow_config(model_dir: Path, data_dir: Path, langs=("en", "de"), **overrides) -> dict:
    """A config that runs the real Snakefile on a tiny model in seconds per job."""
    cfg = {
        "languages": list(langs),
        "data": {
            "local_dir": str(data_dir),
            "prompts": {"max_prompts_per_lang": 3},
            "pairs": {"source": "paradetox", "max_pairs": 24},
        },
        "models": {
            "tiny": {
                "source": "path",
                "path": str(model_dir),
                "family": "gpt2",
                "dpo": {"max_steps": 4, "eval_steps": 2, "warmup_steps": 1, "batch_size": 2, "max_length": 48,
                        "max_prompt_length": 16, "patience": 2},
            }
        },
        "generation": {"n_samples": 3, "max_new_tokens": 5, "batch_size": 2, "dtype": "float32"},
        # validation scores every rated RTP-LX prompt of 17 languages: its own test turns it on, on a subset
        "scoring": {"scorers": ["lexicon"], "validation": {"enabled": False}},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def snakemake(workdir: Path, *args: str, check: bool = True, snakefile: Path | None = None,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real Snakefile (or `snakefile`) in `workdir` with workdir/config.yaml."""
    cmd = [SNAKEMAKE, "-s", str(snakefile or REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
           str(workdir / "config.yaml"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from Snakemake's "Job stats" table (empty when nothing was to be done)."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def planned_outputs(workdir: Path, *args: str, env: dict | None = None) -> set[str]:
    """The output files a dry run would (re)create."""
    out = snakemake(workdir, "-n", "--cores", "1", *args, env=env)
    text = out.stdout + out.stderr
    return {path.strip() for block in re.findall(r"^\s+output: (.+)$", text, re.M) for path in block.split(",")}


def rewrite_first_prompt(path: Path, text: str) -> None:
    """Give the first record of an RTP-LX JSON Lines file a new prompt (a changed input for rerun tests)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["Prompt"] = text
    lines[0] = json.dumps(first, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
