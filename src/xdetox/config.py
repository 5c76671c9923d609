"""Config validation: JSON schema (defaults filled in) plus checks the schema cannot express.

Every error names the config key at fault, e.g. ``config key generation.top_p: 1.5 is greater than the maximum of 1``.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import XdetoxError
from .evaluators import resolve_evaluator
from .languages import NAMES, PAPER_LANGUAGES, check_language

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
DATA_DIR_ENV = "XDETOX_DATA_DIR"


def load_schema(path: str | os.PathLike = SCHEMA_PATH) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _with_defaults(jsonschema.Draft7Validator)


def _key(path) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = error.message.split("(")[-1].rstrip(")") if "(" in error.message else error.message
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {extra}{hint}"
    return error.message


def validate_config(config: dict[str, Any], schema: dict | None = None) -> dict[str, Any]:
    """Return a validated copy of `config` with every default filled in; raise XdetoxError naming the key."""
    config = copy.deepcopy(dict(config))
    _reject_non_finite(config)
    schema = schema or load_schema()
    validator = _DefaultFillingValidator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        # the deepest, most specific errors first: they name the key to fix
        error = max(errors, key=lambda e: len(e.absolute_path))
        raise XdetoxError(f"config key {_key(error.absolute_path)}: {_describe(error)}")
    # jsonschema fills defaults in a first pass; validate again so filled defaults are checked too
    for error in validator.iter_errors(config):
        raise XdetoxError(f"config key {_key(error.absolute_path)}: {_describe(error)}")
    _check_semantics(config)
    return config


def _reject_non_finite(value: Any, path: tuple = ()) -> None:
    """NaN and ±infinity are never a sensible setting, and the schema cannot say so: NaN passes every minimum and
    maximum (each comparison is false), so `threshold: .nan` would make every ToxProb 0 and `rate: .nan` would turn
    rate limiting off without an error."""
    if isinstance(value, float) and not math.isfinite(value):
        spelled = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
        raise XdetoxError(f"config key {_key(path)}: {spelled} is not a finite number; give a finite value")
    if isinstance(value, dict):
        for name, item in value.items():
            _reject_non_finite(item, (*path, name))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _reject_non_finite(item, (*path, i))


def _check_semantics(config: dict[str, Any]) -> None:
    for i, lang in enumerate(config["languages"]):
        if lang not in NAMES:
            raise XdetoxError(
                f"config key languages[{i}]: unknown language code {lang!r}; known codes: {', '.join(PAPER_LANGUAGES)}"
            )
    for name, model in config["models"].items():
        where = f"models.{name}"
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise XdetoxError(f"config key {where}: model names may use letters, digits, '-', '_' and '.' only")
        needed = {"hub": "id", "path": "path", "gguf-package": "package"}[model["source"]]
        if not model.get(needed):
            raise XdetoxError(f"config key {where}.{needed}: required when source is {model['source']!r}")
        if model["source"] == "path" and not Path(model["path"]).is_dir():
            raise XdetoxError(f"config key {where}.path: folder {model['path']!r} does not exist")
        dpo = model_dpo(config, name)
        if dpo["max_prompt_length"] >= dpo["max_length"]:
            raise XdetoxError(f"config key {where}.dpo.max_prompt_length: must be smaller than max_length ({dpo['max_length']})")
        _check_dpo_source(config, name)
        _check_training(config, name)
        _check_tensor_parallel(config, name)
    prompts = config["data"]["prompts"]
    if prompts["path"] and not Path(prompts["path"]).is_dir():
        raise XdetoxError(f"config key data.prompts.path: folder {prompts['path']!r} does not exist")
    pairs = config["data"]["pairs"]
    if pairs["path"] and not Path(pairs["path"]).exists():
        raise XdetoxError(f"config key data.pairs.path: {pairs['path']!r} does not exist")
    local = data_dir(config)
    if local is not None and not Path(local).is_dir():
        source = "environment variable " + DATA_DIR_ENV if os.environ.get(DATA_DIR_ENV) else "config key data.local_dir"
        raise XdetoxError(f"{source}: folder {local!r} does not exist")
    probe = config["interpret"]["probe"]
    if probe["source"] == "jigsaw-train" and not probe["path"]:
        raise XdetoxError("config key interpret.probe.path: required when interpret.probe.source is 'jigsaw-train' "
                          "(Kaggle's jigsaw-toxic-comment-classification-challenge train.csv)")
    if probe["path"] and not Path(probe["path"]).is_file():
        raise XdetoxError(f"config key interpret.probe.path: file {probe['path']!r} does not exist")
    if "hf-classifier" in config["scoring"]["scorers"] and not config["scoring"]["hf_classifier"]["model"]:
        raise XdetoxError("config key scoring.hf_classifier.model: required when scorers include 'hf-classifier'")
    if "detoxify" in config["scoring"]["scorers"] and not config["scoring"]["detoxify"]["checkpoint"]:
        raise XdetoxError("config key scoring.detoxify.checkpoint: required when scorers include 'detoxify'")
    _check_evaluation(config)


def _check_dpo_source(config: dict[str, Any], name: str) -> None:
    """A published DPO checkpoint replaces training: exactly one of id/path, and no training variants of it."""
    source = config["models"][name].get("dpo_source")
    if not source:
        return
    where = f"models.{name}.dpo_source"
    if ("id" in source) == ("path" in source):
        raise XdetoxError(f"config key {where}: give exactly one of id (a hub id) or path (a local folder)")
    if "path" in source and not Path(source["path"]).is_dir():
        raise XdetoxError(f"config key {where}.path: folder {source['path']!r} does not exist")
    own = config["models"][name].get("dpo") or {}
    for key in ("seeds", "learning_rates"):
        if key in own or config["dpo"].get(key):
            raise XdetoxError(f"config key models.{name}.dpo.{key}: a model with dpo_source trains nothing, so it has "
                              f"no {key} variants; remove {key} (or dpo_source)")
    fig12 = config["evaluation"]["figure12"]
    if fig12 and fig12["compare_method"] and (fig12["compare_model"] or fig12["model"]) == name:
        raise XdetoxError(f"config key evaluation.figure12.compare_method: model {name!r} has dpo_source, so no "
                          "extra DPO stage can be trained for it")


def _check_training(config: dict[str, Any], name: str) -> None:
    """Settings TRL 1.16 cannot train, checked for every DPO stage of the model (Figure 12's variant included)."""
    from .stages import dpo_variants, stage_hparams

    for stage, variant in dpo_variants(config, name).items():
        hp = stage_hparams(config, name, stage)
        if hp["method"] == "full":
            continue
        where = f"models.{name}.dpo"
        if hp["method"] == "qlora" and hp["precision"] == "fp16":
            key = "evaluation.figure12.compare_precision" if "method" in variant else f"{where}.precision"
            raise XdetoxError(
                f"config key {key}: fp16 cannot train QLoRA (stage {stage}): TRL 1.16 casts the adapter weights of a "
                "quantized model to bf16 and fp16's grad scaler cannot unscale bf16 gradients; use bf16 (or fp32 on "
                "GPUs without bf16)")
        targets = hp["lora"]["target_modules"]
        if isinstance(targets, list) and "lm_head" in targets:
            raise XdetoxError(
                f"config key {where}.lora.target_modules: 'lm_head' cannot be a LoRA target with TRL 1.16 (its "
                "DPOTrainer computes log-probabilities from lm_head.weight directly and refuses an lm_head adapter); "
                "remove it")


def _check_tensor_parallel(config: dict[str, Any], name: str) -> None:
    gen = config["generation"]
    if gen["backend"] != "vllm":
        return
    tp, gpus = gen["vllm"]["tensor_parallel_size"], config["models"][name]["resources"]["gpus"]
    if tp > max(gpus, 1):
        raise XdetoxError(f"config key generation.vllm.tensor_parallel_size: {tp} exceeds models.{name}.resources.gpus "
                          f"({gpus}); a generation job sees only the GPUs it holds")


def _check_evaluation(config: dict[str, Any]) -> None:
    """The `evaluation` section: evaluator names, Table 1's model and languages, Figure 12's runs."""
    ev = config["evaluation"]
    models = config["models"]
    for key in ("fluency.evaluator", "diversity.tokenizer"):
        section, field = key.split(".")
        if ev[section][field] is not None:
            resolve_evaluator(config, ev[section][field])
    t1 = ev["table1"]
    if t1["model"] is not None and t1["model"] not in models:
        raise XdetoxError(f"config key evaluation.table1.model: {t1['model']!r} is not a key of models")
    for i, lang in enumerate(t1["languages"]):
        check_language(lang, f"config key evaluation.table1.languages[{i}]")
    _check_capability(config)
    fig12 = ev["figure12"]
    if fig12:
        for key in ("model", "compare_model"):
            if fig12[key] is not None and fig12[key] not in models:
                raise XdetoxError(f"config key evaluation.figure12.{key}: {fig12[key]!r} is not a key of models")
        other = fig12["compare_model"] or fig12["model"]
        if other == fig12["model"] and not fig12["compare_method"]:
            raise XdetoxError("config key evaluation.figure12: set compare_model (a second model entry trained with "
                              "dpo.method lora/qlora) or compare_method (an extra DPO stage of the same model)")


def _check_capability(config: dict[str, Any]) -> None:
    """evaluation.capability: its models, and every (benchmark, language) pair existing (Table 3 has no holes)."""
    from .capability.benchmarks import CAPABILITY_LANGUAGES, resolve, task_grid

    cap = config["evaluation"]["capability"]
    local = config["data"]["capability"]["local_dir"]
    if local is not None and not Path(local).is_dir():
        raise XdetoxError(f"config key data.capability.local_dir: folder {local!r} does not exist")
    for i, model in enumerate(cap["models"] or []):
        if model not in config["models"]:
            raise XdetoxError(f"config key evaluation.capability.models[{i}]: {model!r} is not a key of models")
    for i, lang in enumerate(cap["languages"]):
        if lang not in CAPABILITY_LANGUAGES:
            raise XdetoxError(f"config key evaluation.capability.languages[{i}]: {lang!r} is not a Table 3 language "
                              f"(the 17 RTP-LX languages and vi: {', '.join(CAPABILITY_LANGUAGES)})")
    _, missing = task_grid(cap["benchmarks"], cap["languages"], strict=False)
    if missing:
        raise XdetoxError("config key evaluation.capability.languages: these (benchmark, language) pairs do not exist: "
                          + ", ".join(f"{b}/{lang}" for b, lang in missing)
                          + "; drop the languages or the benchmarks (cs, ja, ko, pl are in none; en only in mmlu)")
    for bench, settings in cap["benchmarks"].items():
        try:
            resolve(bench, cap["languages"][0], settings)
        except XdetoxError as err:
            raise XdetoxError(f"config key evaluation.capability.benchmarks.{bench}: {err}") from None


def capability_enabled(config: dict[str, Any]) -> bool:
    """Table 3 runs when evaluation.capability.enabled is true, or when it is null and a local data folder is set."""
    enabled = config["evaluation"]["capability"]["enabled"]
    return bool(config["data"]["capability"]["local_dir"]) if enabled is None else enabled


def capability_models(config: dict[str, Any]) -> list[str]:
    """The models Table 3 evaluates ([] when it is off)."""
    if not capability_enabled(config):
        return []
    return list(config["evaluation"]["capability"]["models"] or config["models"])


def data_dir(config: dict[str, Any]) -> str | None:
    """The local data folder: XDETOX_DATA_DIR wins over data.local_dir; None means download."""
    return os.environ.get(DATA_DIR_ENV) or config["data"]["local_dir"]


def model_dpo(config: dict[str, Any], model: str) -> dict[str, Any]:
    """DPO hyperparameters for one model: the global section overridden by the model's own."""
    merged = copy.deepcopy(config["dpo"])
    own = config["models"][model].get("dpo") or {}
    for key, value in own.items():
        merged[key] = {**merged["lora"], **value} if key == "lora" else value
    return merged


def label_of(config: dict[str, Any], model: str) -> str:
    """A model's name in tables and figure titles: its `label`, else its key."""
    return config["models"][model].get("label", model)


def table1_model(config: dict[str, Any]) -> str:
    return config["evaluation"]["table1"]["model"] or next(iter(config["models"]))


def table1_languages(config: dict[str, Any]) -> list[str]:
    return [lang for lang in config["evaluation"]["table1"]["languages"] if lang in config["languages"]]


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise XdetoxError(f"{path}: config file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise XdetoxError(f"{path}{where}: invalid YAML ({getattr(err, 'problem', err)})") from None
