"""DPO training on a tiny model: output checkpoint, curve, early-stopping bookkeeping, LoRA merge, resume."""

import csv
import json
import logging

import pytest

from xdetox.config import model_dpo, validate_config
from xdetox.io import write_jsonl
from xdetox.train.dpo import run_key, train_dpo


def pairs(n):
    return [{"id": str(i), "prompt": f"You are {i}", "chosen": " kind and thoughtful", "rejected": " a stupid idiot"}
            for i in range(n)]


def hparams(tmp_path, model_dir, **dpo):
    cfg = {"models": {"t": {"source": "path", "path": str(model_dir),
                            "dpo": {"max_steps": 4, "eval_steps": 2, "warmup_steps": 0, "batch_size": 2,
                                    "max_length": 32, "max_prompt_length": 8, "patience": 5, "learning_rate": 1e-3,
                                    **dpo}}}}
    return model_dpo(validate_config(cfg), "t")


@pytest.fixture
def pair_files(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", pairs(8))
    write_jsonl(tmp_path / "val.jsonl", pairs(2))
    return tmp_path / "train.jsonl", tmp_path / "val.jsonl"


def run(tmp_path, model_dir, hp, pair_files, family="gpt2"):
    out = tmp_path / "out"
    return train_dpo(model_dir, *pair_files, hp, out / "model", out / "curve.csv", out / "curve.png",
                     out / "summary.json", tmp_path / "work", family=family, threads=1), out


@pytest.mark.parametrize("method", ["full", "lora"])
def test_dpo_writes_a_plain_checkpoint_and_curve(tmp_path, tiny_model_dir, pair_files, method):
    from transformers import AutoModelForCausalLM

    model_dir = tiny_model_dir("gpt2")
    summary, out = run(tmp_path, model_dir, hparams(tmp_path, model_dir, method=method), pair_files)
    assert summary["steps"] == 4 and summary["n_train_pairs"] == 8
    assert summary["best_checkpoint_step"] in (2, 4)
    model = AutoModelForCausalLM.from_pretrained(out / "model")  # loads without PEFT: adapters are merged
    assert not any("lora" in name for name, _ in model.named_parameters())
    rows = list(csv.DictReader((out / "curve.csv").open()))
    assert {r["split"] for r in rows} == {"train", "eval"}
    assert all(r["rewards/accuracies"] != "" for r in rows if r["split"] == "eval")
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "summary.json").read_text())["hyperparameters"]["method"] == method
    assert not (tmp_path / "work" / run_key(summary["hyperparameters"], *pair_files, model_dir)).exists()


def test_training_changes_preferences(tmp_path, tiny_model_dir, pair_files):
    model_dir = tiny_model_dir("llama")
    summary, out = run(tmp_path, model_dir, hparams(tmp_path, model_dir, max_steps=6), pair_files, family="llama")
    rows = [r for r in csv.DictReader((out / "curve.csv").open()) if r["split"] == "eval"]
    assert float(rows[-1]["rewards/margins"]) > 0  # chosen now preferred over rejected on held-out pairs


def test_interrupted_training_resumes_from_its_checkpoint(tmp_path, tiny_model_dir, pair_files, caplog, monkeypatch):
    from xdetox.train import dpo as dpo_module

    model_dir = tiny_model_dir("gpt2")
    hp = hparams(tmp_path, model_dir)
    key = run_key(hp, *pair_files, model_dir)
    # a run killed after its step-2 checkpoint: train 2 steps into the full run's work folder and keep the folder
    monkeypatch.setattr(dpo_module, "run_key", lambda *a: key)
    monkeypatch.setattr(dpo_module.shutil, "rmtree", lambda *a, **k: None)
    dpo_module.train_dpo(model_dir, *pair_files, dict(hp, max_steps=2), tmp_path / "p" / "model",
                         tmp_path / "p" / "c.csv", tmp_path / "p" / "c.png", tmp_path / "p" / "s.json",
                         tmp_path / "work", threads=1)
    assert (tmp_path / "work" / key / "checkpoint-2").is_dir()
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="xdetox.train"):
        summary, _ = run(tmp_path, model_dir, hp, pair_files)
    assert any("resuming DPO from" in r.getMessage() and "checkpoint-2" in r.getMessage() for r in caplog.records)
    assert summary["steps"] == 4
    assert not (tmp_path / "work" / key).exists()


def test_other_hyperparameters_never_resume_a_stale_run(tmp_path, tiny_model_dir, pair_files):
    model_dir = tiny_model_dir("gpt2")
    a = run_key(hparams(tmp_path, model_dir), *pair_files, model_dir)
    b = run_key(hparams(tmp_path, model_dir, learning_rate=5e-4), *pair_files, model_dir)
    assert a != b
