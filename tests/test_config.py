import pytest

from xdetox import XdetoxError
from xdetox.config import load_yaml, model_dpo, validate_config


def minimal(tmp_path, **extra):
    model_dir = tmp_path / "m"
    model_dir.mkdir(exist_ok=True)
    return {"models": {"m": {"source": "path", "path": str(model_dir)}}, **extra}


def test_defaults_are_the_papers(tmp_path):
    cfg = validate_config(minimal(tmp_path))
    assert cfg["languages"][0] == "ar" and len(cfg["languages"]) == 17
    g = cfg["generation"]
    assert (g["n_samples"], g["temperature"], g["top_p"], g["max_new_tokens"]) == (25, 0.9, 0.8, 20)
    d = cfg["dpo"]
    assert (d["learning_rate"], d["optimizer"], d["batch_size"], d["beta"], d["max_grad_norm"], d["patience"]) == (
        1e-5, "rmsprop", 4, 0.1, 10.0, 10)
    assert cfg["scoring"]["threshold"] == 0.5
    assert cfg["scoring"]["perspective"]["rate"] == 1.0


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(XdetoxError, match=r"config key generation: unknown key .*tempreature"):
        validate_config(minimal(tmp_path, generation={"tempreature": 1.0}))


def test_impossible_value_is_named(tmp_path):
    with pytest.raises(XdetoxError, match=r"config key generation.top_p: 1.5 is greater than the maximum of 1"):
        validate_config(minimal(tmp_path, generation={"top_p": 1.5}))


def test_unknown_language_is_named(tmp_path):
    with pytest.raises(XdetoxError, match=r"config key languages\[1\]: unknown language code 'xx'"):
        validate_config(minimal(tmp_path, languages=["en", "xx"]))


def test_missing_local_model_path(tmp_path):
    cfg = {"models": {"m": {"source": "path", "path": str(tmp_path / "nope")}}}
    with pytest.raises(XdetoxError, match=r"config key models.m.path: folder .*nope' does not exist"):
        validate_config(cfg)


def test_source_needs_its_field(tmp_path):
    with pytest.raises(XdetoxError, match=r"config key models.m.id: required when source is 'hub'"):
        validate_config({"models": {"m": {"source": "hub"}}})


def test_missing_data_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDETOX_DATA_DIR", str(tmp_path / "absent"))
    with pytest.raises(XdetoxError, match="environment variable XDETOX_DATA_DIR"):
        validate_config(minimal(tmp_path))


def test_model_dpo_overrides_global(tmp_path):
    cfg = minimal(tmp_path)
    cfg["models"]["m"]["dpo"] = {"method": "lora", "lora": {"r": 8}, "learning_rate": 5e-5}
    hp = model_dpo(validate_config(cfg), "m")
    assert hp["method"] == "lora" and hp["learning_rate"] == 5e-5 and hp["lora"]["r"] == 8
    assert hp["lora"]["alpha"] == 16 and hp["beta"] == 0.1


def test_prompt_length_must_fit(tmp_path):
    cfg = minimal(tmp_path, dpo={"max_length": 32, "max_prompt_length": 64})
    with pytest.raises(XdetoxError, match="max_prompt_length: must be smaller"):
        validate_config(cfg)


def test_shipped_configs_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cfg = validate_config(load_yaml(root / "config.yaml"))
    assert cfg["models"]


def test_bad_yaml_names_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("models:\n  m: [unclosed\n")
    with pytest.raises(XdetoxError, match=r"c.yaml:\d+: invalid YAML"):
        load_yaml(path)


@pytest.mark.parametrize("yaml_text, key, spelled", [
    ("scoring:\n  threshold: .nan\n", "scoring.threshold", ".nan"),
    ("scoring:\n  perspective:\n    rate: .nan\n", "scoring.perspective.rate", ".nan"),
    ("scoring:\n  perspective:\n    timeout: .inf\n", "scoring.perspective.timeout", ".inf"),
    ("generation:\n  top_p: -.inf\n", "generation.top_p", "-.inf"),
    ("evaluation:\n  anything: [1.0, .NaN]\n", "evaluation.anything[1]", ".nan"),
])
def test_nan_and_infinity_are_rejected_anywhere_with_the_key(tmp_path, yaml_text, key, spelled):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    config = {**minimal(tmp_path), **load_yaml(path)}
    with pytest.raises(XdetoxError) as info:
        validate_config(config)
    assert str(info.value) == f"config key {key}: {spelled} is not a finite number; give a finite value"


def test_non_finite_model_settings_are_named(tmp_path):
    config = minimal(tmp_path)
    config["models"]["m"]["dpo"] = {"beta": float("inf")}
    with pytest.raises(XdetoxError, match=r"config key models\.m\.dpo\.beta: \.inf"):
        validate_config(config)


def paper_preset(tmp_path):
    from pathlib import Path

    cfg = load_yaml(Path(__file__).resolve().parents[1] / "configs" / "paper.yaml")
    cfg["data"]["pairs"]["path"] = str(tmp_path)
    probe = tmp_path / "train.csv"
    probe.write_text('id,comment_text,toxic\n1,"a",0\n', encoding="utf-8")
    cfg["interpret"]["probe"]["path"] = str(probe)
    return cfg


def test_qlora_with_fp16_is_refused_naming_the_key(tmp_path):
    cfg = minimal(tmp_path)
    cfg["models"]["m"]["dpo"] = {"method": "qlora", "precision": "fp16"}
    with pytest.raises(XdetoxError, match=r"config key models\.m\.dpo\.precision: fp16 cannot train QLoRA"):
        validate_config(cfg)
    cfg["models"]["m"]["dpo"]["precision"] = "bf16"
    validate_config(cfg)


def test_figure12_qlora_stage_inherits_fp16_and_is_refused_on_compare_precision(tmp_path):
    cfg = minimal(tmp_path, dpo={"precision": "fp16"}, evaluation={"figure12": {"model": "m", "compare_method": "qlora"}})
    with pytest.raises(XdetoxError, match=r"config key evaluation\.figure12\.compare_precision"):
        validate_config(cfg)
    cfg["evaluation"]["figure12"]["compare_precision"] = "bf16"
    from xdetox.stages import stage_hparams

    done = validate_config(cfg)
    assert stage_hparams(done, "m", "dpo-qlora")["precision"] == "bf16"
    assert stage_hparams(done, "m", "dpo")["precision"] == "fp16"


def test_lm_head_lora_target_is_refused_naming_the_key(tmp_path):
    cfg = minimal(tmp_path)
    cfg["models"]["m"]["dpo"] = {"method": "lora", "lora": {"target_modules": ["q_proj", "lm_head"]}}
    with pytest.raises(XdetoxError, match=r"config key models\.m\.dpo\.lora\.target_modules: 'lm_head'"):
        validate_config(cfg)


def test_paper_preset_follows_the_reference(tmp_path):
    from xdetox.stages import dpo_variants, stage_hparams

    cfg = validate_config(paper_preset(tmp_path))
    assert set(cfg["models"]) == {"mgpt-1.3b", "bloom-1.7b", "bloom-7.1b", "llama2-7b", "llama3-8b", "aya23-8b"}
    for model in cfg["models"]:
        for stage in dpo_variants(cfg, model):
            hp = stage_hparams(cfg, model, stage)
            assert hp["weight_decay"] == 0.0
            assert (hp["bos"], hp["prompt_truncation"]) == ("reference", "if-too-long")
            assert not (hp["method"] == "qlora" and hp["precision"] == "fp16"), (model, stage)
    assert cfg["interpret"]["probe"]["source"] == "jigsaw-train" and cfg["interpret"]["probe"]["max_tokens"] is None
    assert cfg["interpret"]["table5"]["neurons"] == [[14, 5723], [3, 5794], [13, 7176], [1, 2583]]
    assert cfg["retrieval"]["measure"] == "paired_cosine"


def test_schema_defaults_follow_the_reference_and_the_demo_keeps_its_settings(tmp_path):
    from pathlib import Path

    d = validate_config(minimal(tmp_path))["dpo"]
    assert (d["weight_decay"], d["bos"], d["prompt_truncation"]) == (0.0, "reference", "if-too-long")
    demo = validate_config(load_yaml(Path(__file__).resolve().parents[1] / "config.yaml"))
    assert model_dpo(demo, "gemma3-270m")["weight_decay"] == 0.05
    assert model_dpo(demo, "gemma3-270m")["prompt_truncation"] == "always"
    assert demo["interpret"]["probe"]["source"] == "jigsaw-balanced"


def test_jigsaw_train_probe_needs_its_path(tmp_path):
    with pytest.raises(XdetoxError, match=r"config key interpret\.probe\.path: required"):
        validate_config(minimal(tmp_path, interpret={"probe": {"source": "jigsaw-train"}}))
    with pytest.raises(XdetoxError, match=r"config key interpret\.probe\.path: file"):
        validate_config(minimal(tmp_path, interpret={"probe": {"source": "jigsaw-train", "path": str(tmp_path / "x")}}))


def test_dpo_source_replaces_training(tmp_path):
    from xdetox.stages import dpo_variants

    ckpt = tmp_path / "published"
    ckpt.mkdir()
    cfg = minimal(tmp_path)
    cfg["models"]["m"]["dpo_source"] = {"path": str(ckpt)}
    assert list(dpo_variants(validate_config(cfg), "m")) == ["dpo"]
    cfg["models"]["m"]["dpo"] = {"seeds": [0, 1]}
    with pytest.raises(XdetoxError, match=r"config key models\.m\.dpo\.seeds"):
        validate_config(cfg)
    cfg["models"]["m"]["dpo"] = {}
    cfg["models"]["m"]["dpo_source"] = {"path": str(ckpt), "id": "org/x"}
    with pytest.raises(XdetoxError, match=r"config key models\.m\.dpo_source: give exactly one"):
        validate_config(cfg)
    cfg["models"]["m"]["dpo_source"] = {"id": "org/x"}
    cfg["evaluation"] = {"figure12": {"model": "m", "compare_method": "lora"}}
    with pytest.raises(XdetoxError, match=r"config key evaluation\.figure12\.compare_method"):
        validate_config(cfg)


def test_tensor_parallel_cannot_exceed_the_models_gpus(tmp_path):
    cfg = minimal(tmp_path, generation={"backend": "vllm", "vllm": {"tensor_parallel_size": 2}})
    cfg["models"]["m"]["resources"] = {"gpus": 1}
    with pytest.raises(XdetoxError, match=r"config key generation\.vllm\.tensor_parallel_size: 2 exceeds models\.m"):
        validate_config(cfg)


def test_table3_runs_when_a_local_okapi_folder_is_set_or_it_is_enabled(tmp_path):
    from xdetox.config import capability_models

    cfg = validate_config(minimal(tmp_path))
    cap = cfg["evaluation"]["capability"]
    assert capability_models(cfg) == [] and cap["enabled"] is None
    assert cap["languages"] == ["vi", "ru", "hi", "zh-hans"] and cap["seed"] == 1234
    # Okapi's evaluation settings; mmlu (answer letters) only when asked for
    assert cap["benchmarks"] == {
        "arc": {"num_fewshot": 25, "split": "test", "fewshot_split": "train", "metric": "acc_norm"},
        "hellaswag": {"num_fewshot": 0, "split": "val", "fewshot_split": None, "metric": "acc_norm"},
        "mmlu_fulltext": {"num_fewshot": 25, "split": "test", "fewshot_split": "train", "metric": "acc"}}
    okapi = tmp_path / "okapi"
    okapi.mkdir()
    assert capability_models(validate_config(minimal(tmp_path, data={"capability": {"local_dir": str(okapi)}}))) == ["m"]
    on = minimal(tmp_path, evaluation={"capability": {"enabled": True, "models": ["m"]}})
    assert capability_models(validate_config(on)) == ["m"]
    off = minimal(tmp_path, data={"capability": {"local_dir": str(okapi)}}, evaluation={"capability": {"enabled": False}})
    assert capability_models(validate_config(off)) == []


@pytest.mark.parametrize("data, capability, message", [
    ({"capability": {"local_dir": "/no/such/okapi"}}, {}, r"data\.capability\.local_dir: folder '/no/such/okapi'"),
    ({}, {"models": ["nope"]}, r"evaluation\.capability\.models\[0\]: 'nope' is not a key of models"),
    ({}, {"languages": ["ru", "xx"]}, r"evaluation\.capability\.languages\[1\]: 'xx' is not a Table 3 language"),
    ({}, {"languages": ["ru", "ja"]}, r"languages: these \(benchmark, language\) pairs do not exist: arc/ja, "
                                      r"hellaswag/ja, mmlu_fulltext/ja"),
    ({}, {"benchmarks": {"hellaswag": {"num_fewshot": 10}}}, r"benchmarks\.hellaswag: .*needs a fewshot_split"),
    ({}, {"benchmarks": {"mmlu": {"metric": "acc_norm"}}}, r"evaluation\.capability\.benchmarks\.mmlu\.metric"),
    ({}, {"benchmarks": {"winogrande": {}}}, r"unknown key .*winogrande"),
])
def test_table3_settings_are_checked_with_the_key(tmp_path, data, capability, message):
    with pytest.raises(XdetoxError, match=message):
        validate_config(minimal(tmp_path, data=data, evaluation={"capability": capability}))
