# Config access, wildcard constraints, paths and input functions shared by every rule file.
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from xdetox import XdetoxError
from xdetox.config import data_dir, model_dpo, validate_config
from xdetox.data.fetch import manifest
from xdetox.data.prompts import find_in_folder, rtplx_relpath
from xdetox.retrieval.parallel import relpath as parallel_relpath
from xdetox.languages import PAPER_LANGUAGES
from xdetox.stages import dpo_variants, stage_hparams

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
    relpath="|".join(map(re.escape, manifest())),
    a=r"perspective|hf-classifier|detoxify|lexicon",
    b=r"perspective|hf-classifier|detoxify|lexicon",


def dpo_stages(model):
    """The DPO variants trained for a model; 'dpo' is the main one that tables compare against base.

    dpo-seed<n> (dpo.seeds), dpo-lr<x> (dpo.learning_rates), dpo-<method> (evaluation.figure12); see xdetox.stages.
    """
    return list(dpo_variants(config, model))


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
    """The DPO hyperparameters of one (model, stage): the model's merged section with the stage's seed, lr or method."""
    return stage_hparams(config, model, stage)


def local_data():
    return data_dir(config)


def source_file(relpath):
    """An input in the data-folder layout: the local copy if a data folder is given, else the fetch rule's download."""
    local = local_data()
    if local:
        return os.path.join(local, relpath)
    return f"{RESOURCES}/downloads/{relpath}"


def prompt_source(lang):
    prompts = config["data"]["prompts"]
    if prompts["path"]:
        return str(find_in_folder(prompts["path"], lang))
    return source_file(rtplx_relpath(lang, prompts["release"]))


def prompt_selection(lang):
    prompts = config["data"]["prompts"]
    return {"max_prompts": prompts["max_prompts_per_lang"], "selection": prompts["selection"], "seed": prompts["seed"]}


def pairs_source():
    pairs = config["data"]["pairs"]
    if pairs["path"]:
        return pairs["path"]
    if pairs["source"] == "paradetox":
        return source_file("paradetox/paradetox.tsv")
    raise WorkflowError(
        "config key data.pairs.path: Lee et al.'s toxicity_pairwise data has no public pinned URL (a Google Drive "
        "zip linked from ajyl/dpo_toxic); download and unzip it and set data.pairs.path to its folder of *.jsonl files"
    )


def scorer_config(scorer):
    """Only the named scorer's slice of the scoring config (+ cache), so settings of other scorers rerun nothing."""
    scoring = config["scoring"]
    section = scorer.replace("-", "_")
    return {"cache": scoring["cache"], section: scoring[section]}


# ---- generation (issue #4; owner: generation engine) -------------------------------------------------------------
def generation_conda_env():
    """The generation rules' environment: envs/vllm.yaml for the vLLM backend (run with --sdm conda)."""
    return "../../envs/vllm.yaml" if config["generation"]["backend"] == "vllm" else "../../envs/core.yaml"


def generation_cache_dir():
    """Content-addressed cache of per-language generation files (xdetox.generation.cache)."""
    return config["generation"].get("cache_dir") or f"{RESOURCES}/generation-cache"


def langid_targets():
    """Language of continuations, per model: table (CSV, MD) and figure (generate.smk: langid_table)."""
    return [
        path
        for model in MODELS
        for path in (
            f"{RESULTS}/tables/langid/{model}/langid.csv",
            f"{RESULTS}/tables/langid/{model}/langid.md",
            f"{RESULTS}/figures/langid/{model}/langid.png",
        )
    ]


# ---- end generation -----------------------------------------------------------------------------------------------


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
        # scorer agreement: every other configured scorer against the main one, on base generations
        for other in SCORERS[1:]:
            targets.append(f"{RESULTS}/tables/agreement/{model}/base/{MAIN_SCORER}_vs_{other}.md")
    targets += interpret_targets(config, RESULTS, MAIN_SCORER)  # interpret.smk: models with `interpret: true`
    targets += evaluation_targets()  # workflow/rules/evaluate.smk: Tables 1-2, Figures 10-12, seeds, comparison
    targets += retrieval_targets()  # workflow/rules/retrieval.smk: models with `retrieval: true`
    targets += langid_targets()  # workflow/rules/generate.smk: language of continuations per model
    return targets
