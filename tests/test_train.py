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
    from xdetox.data.merge import check_dense

    assert set(check_dense(out / "model").values()) == {"F32"}  # a dense checkpoint, no quantization_config
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


def reference_prompt_ids(tokenizer, r, max_length, max_prompt_length):
    """TRL 0.8.6 DPOTrainer.tokenize_row (trl/trainer/dpo_trainer.py @v0.8.6, l.658-686), the prompt's ids."""
    prompt = [tokenizer.bos_token_id] + tokenizer(r["prompt"], add_special_tokens=False)["input_ids"]
    longer = max(len(tokenizer(r[k], add_special_tokens=False)["input_ids"]) + 1 for k in ("chosen", "rejected"))
    if len(prompt) + longer > max_length:
        prompt = prompt[-max_prompt_length:]  # truncation_mode keep_end
    return prompt


def test_prompts_get_bos_and_are_cut_only_when_the_pair_is_too_long(tiny_model_dir):
    from xdetox.models import load_tokenizer
    from xdetox.train.dpo import prepare_pairs

    tok = load_tokenizer(tiny_model_dir("gpt2"))
    assert tok("a")["input_ids"][0] != tok.bos_token_id  # like mGPT's and BLOOM's: no BOS of its own
    words = " ".join(f"w{i}" for i in range(30))
    records = [{"prompt": "You are", "chosen": " kind", "rejected": " rude"},
               {"prompt": words[:40], "chosen": " kind", "rejected": " rude"},  # longer than 8 tokens, fits in 64
               {"prompt": words, "chosen": " kind" * 20, "rejected": " rude"}]  # pair over 64 tokens
    out = prepare_pairs(records, tok, max_length=64, max_prompt_length=8)
    ids = [tok(r["prompt"], add_special_tokens=False)["input_ids"] for r in out]
    assert ids == [reference_prompt_ids(tok, r, 64, 8) for r in records]
    assert ids[0][0] == ids[1][0] == tok.bos_token_id and len(ids[1]) > 8 and len(ids[2]) == 8
    # the switches: the tokenizer's own BOS (none here) and always cutting reproduce the former behaviour
    old = prepare_pairs(records, tok, 64, 8, bos="tokenizer", truncation="always")
    plain = [len(tok(r["prompt"], add_special_tokens=False)["input_ids"]) for r in records]
    assert [len(tok(r["prompt"], add_special_tokens=False)["input_ids"]) for r in old] == [min(n, 8) for n in plain]
    assert plain[0] < 8 and out[0]["prompt"] == tok.bos_token + "You are"
