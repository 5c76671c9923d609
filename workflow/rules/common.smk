# Config access, wildcard constraints, paths and input functions shared by every rule file.
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from xdetox import XdetoxError
from xdetox.config import data_dir, model_dpo, validate_config
from xdetox.languages import PAPER_LANGUAGES

try:
    config = validate_config(config)
except XdetoxError as err:
    raise WorkflowError(str(err))

LANGS = config["languages"]
MODELS = list(config["models"])
SCORERS = config["scoring"]["scorers"]
MAIN_SCORER = SCORERS[0]
RESULTS = config["results_dir"]
RESOURCES = config["resources_dir"]
LOGS = "logs"
SCRIPTS = "../scripts"


wildcard_constraints:
    model="|".join(map(re.escape, MODELS)),
    lang="|".join(map(re.escape, PAPER_LANGUAGES)),
    stage=r"base|dpo(-[A-Za-z0-9.+-]+)?",
    scorer=r"perspective|hf-classifier|detoxify|lexicon",


def dpo_stages(model):
    """The DPO variants trained for a model; 'dpo' is the main one that tables compare against base."""
    return ["dpo"]


def stages(model):
    return ["base"] + dpo_stages(model)


def model_cfg(model):
    return config["models"][model]


def base_model_dir(model):
    cfg = model_cfg(model)
    if cfg["source"] == "path":
        return cfg["path"]
    return f"{RESOURCES}/models/{model}/base"


def model_dir(model, stage):
    if stage == "base":
        return base_model_dir(model)
    return f"{RESULTS}/dpo/{model}/{stage}/model"


def model_dir_input(wildcards):
    return model_dir(wildcards.model, wildcards.stage)


def dpo_hparams(model, stage):
    """The DPO hyperparameters of one (model, stage): the model's merged section (a stage may vary seed or lr)."""
    return model_dpo(config, model)


def local_data():
    return data_dir(config)


def threads_for(kind):
    return {"train": 2, "generate": 2, "score": 1}.get(kind, 1)


def all_targets():
    targets = []
    for model in MODELS:
        for scorer in SCORERS:
            targets += [
                f"{RESULTS}/tables/{scorer}/{model}/table2.csv",
                f"{RESULTS}/tables/{scorer}/{model}/table2.md",
                f"{RESULTS}/figures/{scorer}/{model}/figure1.png",
            ]
        for stage in dpo_stages(model):
            targets.append(f"{RESULTS}/dpo/{model}/{stage}/training_curve.png")
    return targets
