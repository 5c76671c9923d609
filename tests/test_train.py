"""DPO training on a tiny model through the dpo step: output checkpoint, curve, early-stopping bookkeeping, LoRA
merge, resume from an interrupted run, typed hyperparameters."""

import csv
import json

import pytest

from xdetox.config import model_dpo, validate_config
from xdetox.io import read_jsonl, write_jsonl
from xdetox.steps import train as step
from xdetox.train import dpo as dpo_module
from xdetox.train.dpo import DPOHyperparameters, run_key


def pairs(n):
    return [{"id": str(i), "prompt": f"You are {i}", "chosen": " kind and thoughtful", "rejected": " a stupid idiot"}
            for i in range(n)]


def hparams(model_dir, **dpo):
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


def run(tmp_path, model_dir, hp, pair_files, family="gpt2", out_name="out"):
    out = tmp_path / out_name
    summary = step.dpo(str(model_dir), *map(str, pair_files), hp, str(out / "model"), str(out / "curve.csv"),
                       str(out / "curve.png"), str(out / "summary.json"), str(tmp_path / "work"), family, "float32",
                       1, "DPO tiny")
    return summary, out


def key(hp, pair_files, model_dir):
    return run_key(DPOHyperparameters.from_config(hp), *(read_jsonl(p) for p in pair_files), model_dir)


def test_hyperparameters_are_typed_once_and_round_trip(tiny_model_dir):
    hp = hparams(tiny_model_dir("gpt2"), method="lora", lora={"target_modules": ["c_attn"]})
    typed = DPOHyperparameters.from_config(hp)
    assert typed.lora.target_modules == ("c_attn",) and typed.learning_rate == 1e-3
    assert typed.as_dict() == hp  # summary.json reports the config's values, lists as lists
    with pytest.raises(Exception):
        typed.beta = 0.2  # frozen
    with pytest.raises(KeyError):
        DPOHyperparameters.from_config({k: v for k, v in hp.items() if k != "beta"})


@pytest.mark.parametrize("method", ["full", "lora"])
def test_dpo_writes_a_plain_checkpoint_and_curve(tmp_path, tiny_model_dir, pair_files, method):
    from transformers import AutoModelForCausalLM

    model_dir = tiny_model_dir("gpt2")
    hp = hparams(model_dir, method=method)
    summary, out = run(tmp_path, model_dir, hp, pair_files)
    assert summary["steps"] == 4 and summary["n_train_pairs"] == 8
    assert summary["best_checkpoint_step"] in (2, 4)
    model = AutoModelForCausalLM.from_pretrained(out / "model")  # loads without PEFT: adapters are merged
    assert not any("lora" in name for name, _ in model.named_parameters())
    rows = list(csv.DictReader((out / "curve.csv").open()))
    assert {r["split"] for r in rows} == {"train", "eval"}
    assert all(r["rewards/accuracies"] != "" for r in rows if r["split"] == "eval")
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "summary.json").read_text())["hyperparameters"]["method"] == method
    assert not (tmp_path / "work" / key(hp, pair_files, model_dir)).exists()  # resume points removed


def test_training_changes_preferences(tmp_path, tiny_model_dir, pair_files):
    model_dir = tiny_model_dir("llama")
    summary, out = run(tmp_path, model_dir, hparams(model_dir, max_steps=6), pair_files, family="llama")
    rows = [r for r in csv.DictReader((out / "curve.csv").open()) if r["split"] == "eval"]
    assert float(rows[-1]["rewards/margins"]) > 0  # chosen now preferred over rejected on held-out pairs


def test_interrupted_training_resumes_from_its_checkpoint(tmp_path, tiny_model_dir, pair_files, monkeypatch):
    model_dir = tiny_model_dir("gpt2")
    hp = hparams(model_dir)
    full_key = key(hp, pair_files, model_dir)
    # a run killed after its step-2 checkpoint: train 2 steps into the full run's work folder and keep the folder
    monkeypatch.setattr(step, "run_key", lambda *a: full_key)
    monkeypatch.setattr(step.shutil, "rmtree", lambda *a, **k: None)
    run(tmp_path, model_dir, dict(hp, max_steps=2), pair_files, out_name="partial")
    assert (tmp_path / "work" / full_key / "checkpoint-2").is_dir()
    monkeypatch.undo()

    resumed_from = []

    class Recording(dpo_module.DPOTrainer):
        def train(self, resume_from_checkpoint=None, **kwargs):
            resumed_from.append(resume_from_checkpoint)
            return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    monkeypatch.setattr(dpo_module, "DPOTrainer", Recording)
    summary, _ = run(tmp_path, model_dir, hp, pair_files)
    assert len(resumed_from) == 1 and resumed_from[0].endswith("checkpoint-2")
    assert summary["steps"] == 4
    assert not (tmp_path / "work" / full_key).exists()


def test_other_hyperparameters_never_resume_a_stale_run(tiny_model_dir, pair_files):
    model_dir = tiny_model_dir("gpt2")
    assert key(hparams(model_dir), pair_files, model_dir) != key(hparams(model_dir, learning_rate=5e-4), pair_files,
                                                                 model_dir)
