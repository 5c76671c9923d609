# What every rule file shares (the validated config, paths, wildcard constraints, input and parameter functions and
# the targets). Every function of the workflow is here; the other .smk files hold rules only.
# Only parse-time modules of xdetox are imported here (no torch, no matplotlib): the DAG is built in a second.
import sys
from pathlib import Path

SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)

from xdetox import XdetoxError
from xdetox.capability.benchmarks import BENCHMARKS as CAPABILITY_BENCHMARKS
from xdetox.capability.benchmarks import CAPABILITY_LANGUAGES, resolve as capability_task, task_grid
from xdetox.capability.data import local_files as capability_local_files
from xdetox.checkout import prefer_checkout
from xdetox.config import capability_models, data_dir, label_of, table1_languages, table1_model, validate_config
from xdetox.data.fetch import manifest
from xdetox.data.parallel import relpath as parallel_relpath
from xdetox.data.probe import PROBE_SOURCES
from xdetox.data.staging import KINDS as STAGED_KINDS
from xdetox.data.staging import STAGE_DIR, digest, source_of, staged_name
from xdetox.data.prompts import find_in_folder, rtplx_relpath
from xdetox.evaluators import diversity_tokenizer_name, fluency_evaluator_name, hub_folder_name, resolve_evaluator
from xdetox.languages import PAPER_LANGUAGES
from xdetox.report.captions import evaluator_label, table2_notes
from xdetox.scoring.preflight import preflight, preflight_mode
from xdetox.scoring.registry import SCORERS as SCORER_NAMES
from xdetox.scoring.registry import LOADS_A_MODEL as SCORER_LOADS_A_MODEL
from xdetox.scoring.registry import scorer_arguments
from xdetox.scoring.registry import section as scorer_section
from xdetox.scoring.budget import RTPLX_PROMPTS, budget_message, describe, estimate, over_budget, prompts_per_language
from xdetox.stages import dpo_variants, figure12_runs, lr_stages, seed_stages, stage_hparams

# script jobs run this checkout's xdetox, not an installed one or another clone's (a cluster job re-reads this file)
prefer_checkout(SRC)

try:
    config = validate_config(config)
except XdetoxError as err:
    raise WorkflowError(str(err))

LANGS = config["languages"]
MODELS = list(config["models"])
SCORERS = config["scoring"]["scorers"]
MAIN_SCORER = SCORERS[0]  # drives the tables and figures; the others are compared with it (agreement)
RESULTS = config["results_dir"]
RESOURCES = config["resources_dir"]
LOGS = "logs"
BENCHMARKS = "benchmarks"  # per-rule wall time and memory (Snakemake's benchmark files)
SCRIPTS = "../scripts"
REPORT = "../report"
CORE_ENV = "../../envs/core.yaml"
QLORA_ENV = "../../envs/qlora.yaml"

# every cache lives under {resources_dir}/cache (xdetox.cache; the score cache is xdetox.scoring.cache)
GENERATION_CACHE = f"{RESOURCES}/cache/generation"
QUALITY_CACHE = f"{RESOURCES}/cache/quality"
SCORE_CACHE = f"{RESOURCES}/cache/scores.sqlite"

VALIDATION = config["scoring"]["validation"]
VALID = f"{RESULTS}/validation"

def scoring_preflight(probe):
    """Every scorer's config, API key and the score cache (and with `probe`, one real request per remote scorer):
    a problem stops the run with one message naming what to fix, before any job (xdetox.scoring.preflight)."""
    try:
        for line in preflight(config["scoring"], cache_path=SCORE_CACHE, probe=probe):
            logger.debug(f"preflight: {line}")
    except XdetoxError as err:
        raise WorkflowError(str(err)) from None


try:
    PREFLIGHT = preflight_mode(config["scoring"])
except XdetoxError as err:
    raise WorkflowError(str(err))
# local checks while planning (a dry run included); the job processes of a cluster run skip them, the head ran them
if PREFLIGHT != "off" and workflow.is_main_process:
    scoring_preflight(probe=False)

EVAL = config["evaluation"]
FLUENCY = EVAL["fluency"]["enabled"]
DIVERSITY = EVAL["diversity"]["enabled"]

INTERPRET = config["interpret"]
INTERP = f"{RESULTS}/interpret"
INTERPRET_MODELS = [m for m in MODELS if config["models"][m]["interpret"]]

RETRIEVAL = config["retrieval"]
RETR = f"{RESULTS}/retrieval"
RETRIEVAL_MODELS = [m for m in MODELS if config["models"][m]["retrieval"]]
# retrieval is measured against English, which is a retrieval language even if not a configured one
RETRIEVAL_LANGS = LANGS if "en" in LANGS else ["en"] + LANGS
RETRIEVAL_SENTENCES = f"{RESOURCES}/data/parallel/{RETRIEVAL['dataset']}"

# Table 3: capability before and after DPO (off unless enabled or data.capability.local_dir is set; docs/capability.md)
CAPABILITY = EVAL["capability"]
CAPABILITY_MODELS = capability_models(config)
CAPABILITY_LOCAL = config["data"]["capability"]["local_dir"]
CAPABILITY_TASKS = task_grid(CAPABILITY["benchmarks"], CAPABILITY["languages"])[0]  # (benchmark, lang), checked
CAPABILITY_STAGES = ("base", "dpo")
CAPABILITY_ENV = "../../envs/capability.yaml"


wildcard_constraints:
    model="|".join(map(re.escape, MODELS)),
    lang="|".join(map(re.escape, PAPER_LANGUAGES)),
    stage=r"base|dpo(-[A-Za-z0-9.+-]+)?",
    scorer="|".join(map(re.escape, SCORER_NAMES)),
    a="|".join(map(re.escape, SCORER_NAMES)),
    b="|".join(map(re.escape, SCORER_NAMES)),
    relpath="|".join(map(re.escape, manifest())),
    evaluator=r"[^/]+",
    benchmark="|".join(map(re.escape, CAPABILITY_BENCHMARKS)),


# ---- models and stages -------------------------------------------------------------------------------------------
def model_cfg(model):
    return config["models"][model]


def model_section(wc):
    """Parameter: the job's model's config section."""
    return model_cfg(wc.model)


def model_family(wc):
    return model_cfg(wc.model).get("family")


def dpo_stages(model):
    """The DPO variants trained for a model; 'dpo' is the main one that tables compare against base.

    dpo-seed<n> (dpo.seeds), dpo-lr<x> (dpo.learning_rates), dpo-<method> (evaluation.figure12); see xdetox.stages.
    """
    return list(dpo_variants(config, model))


def stages(model):
    return ["base"] + dpo_stages(model)


def model_stages(wc):
    """Parameter: every stage of the job's model, base first."""
    return stages(wc.model)


def base_model_dir(model):
    cfg = model_cfg(model)
    if cfg["source"] == "path":
        return cfg["path"]
    return f"{RESOURCES}/models/{model}/base"


def published_in_place(model):
    """A dpo_source path that is already a dense checkpoint is used where it is (an adapter folder is merged)."""
    source = model_cfg(model).get("dpo_source")
    return bool(source and "path" in source and not Path(source["path"], "adapter_config.json").is_file())


def model_dir(model, stage):
    if stage == "base":
        return base_model_dir(model)
    if model_cfg(model).get("dpo_source"):  # a published checkpoint: no training (stage is always "dpo")
        if published_in_place(model):
            return model_cfg(model)["dpo_source"]["path"]
        return f"{RESOURCES}/models/{model}/dpo-published"
    return f"{RESULTS}/dpo/{model}/{stage}/model"


def dpo_source(wc):
    """Parameter: the job's model's published DPO checkpoint (models.<m>.dpo_source)."""
    return model_cfg(wc.model)["dpo_source"]


def stage_model(wc):
    """Input: the checkpoint of the job's (model, stage)."""
    return model_dir(wc.model, wc.stage)


def base_model(wc):
    """Input: the base checkpoint of the job's model."""
    return base_model_dir(wc.model)


def dpo_model(wc):
    """Input: the main DPO checkpoint of the job's model."""
    return model_dir(wc.model, "dpo")


def model_resources(kind):
    """Resource function: the job's model's `resources.<kind>` (mem_mb, gpus, train_runtime, generate_runtime)."""
    return lambda wc: model_cfg(wc.model)["resources"][kind]


def threads_for(kind):
    return {"train": 2, "generate": 2, "score": 1}.get(kind, 1)


def label(wc):
    """Parameter: the job's model's name in tables and figure titles."""
    return label_of(config, wc.model)


def namespace(wc):
    """Parameter: the job's (model, stage) namespace of a content cache."""
    return f"{wc.model}/{wc.stage}"


def dpo_hparams(wc):
    """Parameter: the DPO hyperparameters of the job's (model, stage): the model's merged section with the stage's
    seed, learning rate or method."""
    return stage_hparams(config, wc.model, wc.stage)


def dpo_work_dir(wc):
    """Parameter: trainer checkpoints, outside the directory output so an interrupted run can resume."""
    return f"{RESOURCES}/checkpoints/{wc.model}/{wc.stage}"


def dpo_conda_env(wc):
    """The DPO rule's environment: envs/qlora.yaml (core + bitsandbytes) for QLoRA stages, envs/core.yaml otherwise."""
    return QLORA_ENV if stage_hparams(config, wc.model, wc.stage)["method"] == "qlora" else CORE_ENV


def dpo_title(wc):
    return f"DPO {wc.model} ({wc.stage})"


# ---- inputs of the study -----------------------------------------------------------------------------------------
STAGED = f"{RESOURCES}/{STAGE_DIR}"
STAGED_NAME = "(" + "|".join(STAGED_KINDS) + ")/.+"


def staged(kind, source, relpath=None):
    """Input: the staged copy of a file or folder from outside the workflow (rule stage_input, xdetox.data.staging),
    so moving or copying the data reruns nothing while changed bytes rerun their chain."""
    name = staged_name(kind, source, relpath)
    if Path(source).is_dir():
        return f"{STAGED}/folders/{name}"
    return f"{STAGED}/{name}"


def staged_digest(wc):
    """Parameter: the SHA-256 of a staged input's source: its identity (the source's path is none of it)."""
    try:
        return digest(source_of(config, wc.name))
    except XdetoxError as err:
        raise WorkflowError(str(err))


def source_file(relpath):
    """An input in the data-folder layout: the staged local copy if a data folder is given, else the fetch rule's
    download."""
    local = data_dir(config)
    if local:
        return staged("data", Path(local) / relpath, relpath)
    return f"{RESOURCES}/downloads/{relpath}"


def prompt_source(wc):
    """Input: the RTP-LX file of the job's language."""
    prompts = config["data"]["prompts"]
    if prompts["path"]:
        return staged("prompts", find_in_folder(prompts["path"], wc.lang))
    return source_file(rtplx_relpath(wc.lang, prompts["release"]))


def prompt_selection(wc):
    """Parameter: only the subset settings, so changing another data setting reruns no prompts job."""
    prompts = config["data"]["prompts"]
    return {"max_prompts": prompts["max_prompts_per_lang"], "selection": prompts["selection"], "seed": prompts["seed"]}


def pairs_source(wc=None):
    """Input: the preference pairs' source file (evaluated only when a DPO stage is trained)."""
    pairs = config["data"]["pairs"]
    if pairs["path"]:
        return staged("pairs", pairs["path"])
    if pairs["source"] == "paradetox":
        return source_file("paradetox/paradetox.tsv")
    raise WorkflowError(
        "config key data.pairs.path: Lee et al.'s toxicity_pairwise data has no public pinned URL (a Google Drive "
        "zip linked from ajyl/dpo_toxic); download and unzip it and set data.pairs.path to its folder of *.jsonl files"
    )


def pairs_settings():
    """Parameter: data.pairs without its path (the staged input stands for the data, whatever its location)."""
    return {k: v for k, v in config["data"]["pairs"].items() if k != "path"}


def prompt_files(langs):
    return [f"{RESOURCES}/data/prompts/{lang}.jsonl" for lang in langs]


# ---- generation and scoring --------------------------------------------------------------------------------------
def generation_conda_env():
    """The generation rules' environment: envs/vllm.yaml for the vLLM backend (run with --sdm conda)."""
    return "../../envs/vllm.yaml" if config["generation"]["backend"] == "vllm" else CORE_ENV


def langid_inputs(wc):
    """Input: the language identification of every (stage, language) of the job's model, stage-major."""
    return [f"{RESULTS}/langid/{wc.model}/{stage}/{lang}.jsonl" for stage in stages(wc.model) for lang in LANGS]


LEARNED_HEADS = f"{RESOURCES}/scorers/learned"
# the learned scorer's keys that shape its training (the rest only shape how it runs)
LEARNED_RUNTIME_KEYS = ("batch_tokens", "threads")


def learned_encoder(wc=None):
    """The learned scorer's encoder: a configured model's base checkpoint, or a local checkpoint folder."""
    name = config["scoring"]["learned"]["encoder"] or MODELS[0]
    if name in config["models"]:
        return base_model_dir(name)
    if not Path(name).is_dir():
        raise WorkflowError(f"config key scoring.learned.encoder: {name!r} is neither a model of `models:` "
                            f"({', '.join(MODELS)}) nor an existing checkpoint folder")
    return name


def scorer_settings(wc):
    """Parameter: only the job's scorer's section of `scoring`, so settings of other scorers rerun nothing.

    The learned scorer also gets its trained heads and encoder (inputs of the job: scorer_artifacts), not its training
    settings (the heads carry them)."""
    settings = scorer_arguments(wc.scorer, config["scoring"][scorer_section(wc.scorer)])
    if wc.scorer == "learned":
        settings = {k: v for k, v in settings.items() if k != "training"}
        settings.update(heads=LEARNED_HEADS, encoder=learned_encoder())
    return settings


def scorer_artifacts(wc):
    """Input: what the job's scorer is built from besides its config (the learned scorer's heads and encoder)."""
    return [LEARNED_HEADS, learned_encoder()] if wc.scorer == "learned" else []


def score_stage_manifest(wc):
    """Input: the stage job that filled the score cache, for scorers that load a model (10-20 s per load on a CPU;
    not the lexicon or a remote API: nothing to share, and a remote stage job would run for days). ancient(): when one
    language's generations change the stage job reruns (one scorer load, only that language missing from the cache)
    but the other languages' score jobs do not."""
    if wc.scorer not in SCORER_LOADS_A_MODEL:
        return []
    return ancient(f"{RESULTS}/scores/{wc.scorer}/{wc.model}/{wc.stage}/manifest.json")


def learned_training_settings(wc):
    """Parameter of train_scorer: the scorer's section without the keys that only shape how it runs."""
    return {k: v for k, v in config["scoring"]["learned"].items() if k not in LEARNED_RUNTIME_KEYS}


def rtplx_annotations(wc):
    """Input: RTP-LX v0.2 raw (the release that carries the human ratings) of all 17 languages (PAPER_LANGUAGES
    order)."""
    return [source_file(rtplx_relpath(lang, "v0.2")) for lang in PAPER_LANGUAGES]


def parallel200(wc):
    """Input: the paper's 200 parallel prompts of all 17 languages (PAPER_LANGUAGES order)."""
    return [source_file(parallel_relpath("parallel200", lang)) for lang in PAPER_LANGUAGES]


def jigsaw_for_scorer(wc):
    """Input: the English Jigsaw subset, when the learned scorer trains on it."""
    if config["scoring"]["learned"]["training"]["jigsaw"]["max_examples"] == 0:
        return []
    return [source_file(PROBE_SOURCES["jigsaw"])]


def perspective_slot(wc):
    """Resource: Perspective API jobs take the one `perspective_api` slot (the quota is per API key)."""
    return 1 if wc.scorer == "perspective" else 0


def agreement_scores(which):
    """Input function: scorer `which` ("a" or "b") of an agreement job, every language."""
    return lambda wc: [f"{RESULTS}/scores/{getattr(wc, which)}/{wc.model}/{wc.stage}/{lang}.jsonl" for lang in LANGS]


# ---- evaluation --------------------------------------------------------------------------------------------------
def evaluator_path(name):
    """Checkpoint folder of an evaluator name: a model's base checkpoint, a local folder, or a downloaded hub id."""
    kind, value = resolve_evaluator(config, name)
    if kind == "model":
        return base_model_dir(value)
    if kind == "path":
        return value
    return f"{RESOURCES}/models/evaluators/{hub_folder_name(value, EVAL['fluency']['revision'])}"


def hub_evaluators():
    """Folder name -> {id, revision} of every hub-id evaluator (the evaluator_model rule downloads them)."""
    out = {}
    for name in (fluency_evaluator_name(config), diversity_tokenizer_name(config)):
        if name is not None and resolve_evaluator(config, name)[0] == "hub":
            revision = EVAL["fluency"]["revision"]
            out[hub_folder_name(name, revision)] = {"id": name, "revision": revision}
    return out


def hub_evaluator(wc):
    return hub_evaluators()[wc.evaluator]


def quality_kinds():
    """kind -> evaluator checkpoint folder, value-changing settings and the name shown in captions (enabled kinds)."""
    kinds = {}
    if FLUENCY:
        name = fluency_evaluator_name(config)
        # only the settings that shape the values (and batching), not where or how long the job runs
        settings = {k: EVAL["fluency"][k] for k in ("mode", "dtype", "batch_size", "max_ppl", "max_samples_per_prompt")}
        kinds["fluency"] = {"evaluator_dir": evaluator_path(name), "settings": settings,
                            "name": str(resolve_evaluator(config, name)[1])}
    if DIVERSITY:
        name = diversity_tokenizer_name(config)
        kinds["diversity"] = {"evaluator_dir": evaluator_path(name), "settings": {},
                              "name": str(resolve_evaluator(config, name)[1])}
    return kinds


def quality_inputs(wc):
    """The evaluator checkpoints (so their download or conversion runs first)."""
    return {f"{kind}_evaluator": spec["evaluator_dir"] for kind, spec in quality_kinds().items()}


def quality_outputs():
    out = {}
    if FLUENCY:
        out["fluency_values"] = f"{RESULTS}/fluency/{{model}}/{{stage}}/{{lang}}.jsonl"
        out["fluency_summary"] = f"{RESULTS}/fluency/{{model}}/{{stage}}/{{lang}}.json"
    if DIVERSITY:
        out["diversity_summary"] = f"{RESULTS}/diversity/{{model}}/{{stage}}/{{lang}}.json"
    return out


def lang_files(kind, model, stage, ext, scorer=None, langs=None):
    prefix = f"{RESULTS}/{kind}/{scorer}" if scorer else f"{RESULTS}/{kind}"
    return [f"{prefix}/{model}/{stage}/{lang}.{ext}" for lang in (langs or LANGS)]


def stage_generations(wc):
    """Input: every language's generation file of the job's (model, stage)."""
    return lang_files("generations", wc.model, wc.stage, "jsonl")


def stage_generations_ancient(wc):
    return [ancient(p) for p in stage_generations(wc)]


def sibling_generations(wc):
    """Parameter: lang -> generation file of the job's (model, stage): what a per-language job computes with its own
    language on a cache miss."""
    return dict(zip(LANGS, stage_generations(wc)))


def metrics_of(stage):
    """Input function: the per-language metrics of the job's (scorer, model) at `stage`."""
    return lambda wc: lang_files("metrics", wc.model, stage, "json", wc.scorer)


def fluency_values_of(stage):
    """Input function: the per-continuation perplexities of the job's model at `stage`."""
    return lambda wc: lang_files("fluency", wc.model, stage, "jsonl")


def stage_inputs(scorer, model, stage):
    """Per-language files behind one stage's Table 2 row: metrics, and fluency / diversity summaries when enabled."""
    d = {"metrics": lang_files("metrics", model, stage, "json", scorer)}
    if FLUENCY:
        d["fluency"] = lang_files("fluency", model, stage, "json")
    if DIVERSITY:
        d["diversity"] = lang_files("diversity", model, stage, "json")
    return d


def flat(prefix, d):
    return {f"{prefix}_{k}": v for k, v in d.items()}


def language_files(scorer, model, stage):
    """Per-language scores and language identification of one stage: what the language-aware values read."""
    return {"scores": lang_files("scores", model, stage, "jsonl", scorer),
            "langid": lang_files("langid", model, stage, "jsonl")}


def table2_inputs(wc):
    return {**flat("base", stage_inputs(wc.scorer, wc.model, "base")),
            **flat("dpo", stage_inputs(wc.scorer, wc.model, "dpo")),
            **flat("base", language_files(wc.scorer, wc.model, "base")),
            **flat("dpo", language_files(wc.scorer, wc.model, "dpo")),
            **{f"validation_{s}": path for s, path in validation_csvs(wc).items()}}


def figure1_inputs(wc):
    """Per-language metrics of both stages, and what the degeneration flag reads: language identification and, when
    evaluated, diversity."""
    d = {"base": lang_files("metrics", wc.model, "base", "json", wc.scorer),
         "dpo": lang_files("metrics", wc.model, "dpo", "json", wc.scorer)}
    for stage in ("base", "dpo"):
        d[f"{stage}_langid"] = lang_files("langid", wc.model, stage, "jsonl")
        if DIVERSITY:
            d[f"{stage}_diversity"] = lang_files("diversity", wc.model, stage, "json")
    return d


def language_aware_inputs(wc):
    """Scores and language identification of every (stage, language) of the job's model, stage-major."""
    files = [language_files(wc.scorer, wc.model, stage) for stage in stages(wc.model)]
    return {"scores": [p for f in files for p in f["scores"]], "langid": [p for f in files for p in f["langid"]]}


def validation_csvs(wc):
    """Input: scorer -> validation table named under Table 2: the table's own scorer first, then the others."""
    if not VALIDATION["enabled"]:
        return {}
    order = [wc.scorer] + [s for s in SCORERS if s != wc.scorer]
    return {s: f"{VALID}/{s}/validation.csv" for s in order}


def validation_tables(wc):
    return list(validation_csvs(wc).values())


def validated_scorers(wc):
    return list(validation_csvs(wc))


def model_table2_notes(wc):
    return table2_notes(config, wc.model)


def table1_inputs(wc):
    model, stage, langs = table1_model(config), EVAL["table1"]["stage"], table1_languages(config)
    return {"base_gens": lang_files("generations", model, "base", "jsonl", langs=langs),
            "base_scores": lang_files("scores", model, "base", "jsonl", wc.scorer, langs),
            "dpo_gens": lang_files("generations", model, stage, "jsonl", langs=langs),
            "dpo_scores": lang_files("scores", model, stage, "jsonl", wc.scorer, langs)}


def seeds_inputs(wc):
    d = flat("base", stage_inputs(wc.scorer, wc.model, "base"))
    for seed, stage in seed_stages(config, wc.model).items():
        d.update(flat(f"seed{seed}", stage_inputs(wc.scorer, wc.model, stage)))
    return d


def seed_list(wc):
    return list(seed_stages(config, wc.model))


def figure11_inputs(wc):
    d = flat("base", stage_inputs(wc.scorer, wc.model, "base"))
    for i, stage in enumerate(lr_stages(config, wc.model).values()):
        d.update(flat(f"lr{i}", stage_inputs(wc.scorer, wc.model, stage)))
    return d


def learning_rates(wc):
    return [[lr, stage] for lr, stage in lr_stages(config, wc.model).items()]


def figure12_series(wc):
    """Legend label -> per-language metrics: pre DPO, the full fine-tuning DPO run, the (Q)LoRA one."""
    (model, stage), (other, other_stage) = figure12_runs(config)

    def method(m, s):
        name = {"full": "full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}[stage_hparams(config, m, s)["method"]]
        return name if m == model else f"{name}, {label_of(config, m)}"

    return {
        "Pre DPO": lang_files("metrics", model, "base", "json", wc.scorer),
        f"DPO ({method(model, stage)})": lang_files("metrics", model, stage, "json", wc.scorer),
        f"DPO ({method(other, other_stage)})": lang_files("metrics", other, other_stage, "json", wc.scorer),
    }


def figure12_inputs(wc):
    return [p for paths in figure12_series(wc).values() for p in paths]


def paper_models():
    return [m for m in MODELS if model_cfg(m).get("paper_reference")]


def paper_comparison_inputs(wc):
    return [f"{RESULTS}/tables/{wc.scorer}/{m}/table2.csv" for m in paper_models()] + (
        [paper_table3()] if paper_table3() else [])


def paper_entries(wc):
    return [{"label": label_of(config, m), "paper_reference": model_cfg(m)["paper_reference"],
             "table2_csv": f"{RESULTS}/tables/{wc.scorer}/{m}/table2.csv"} for m in paper_models()]


def paper_table3():
    """Parameter: Table 3's paper comparison (the table3 rule's CSV), or None when Table 3 is off."""
    return f"{RESULTS}/tables/table3_paper_comparison.csv" if CAPABILITY_MODELS else None


# ---- Table 3: capability ----------------------------------------------------------------------------------------
def capability_inputs(wc):
    """Input: the checkpoint of the job's (model, stage) and, with a local data folder, the task's files."""
    d = {"model": model_dir(wc.model, wc.stage)}
    if CAPABILITY_LOCAL:
        spec = capability_task(wc.benchmark, wc.lang, CAPABILITY["benchmarks"][wc.benchmark])
        d.update({f"data_{split}": str(path) for split, path in capability_local_files(CAPABILITY_LOCAL, spec).items()})
    return d


def capability_settings(wc):
    """Parameter: the job's benchmark's settings and what shapes the values (not runtime), so editing another
    benchmark reruns nothing of this one; dtype `model` is the model's own."""
    dtype = model_cfg(wc.model)["dtype"] if CAPABILITY["dtype"] == "model" else CAPABILITY["dtype"]
    return {"benchmarks": {wc.benchmark: CAPABILITY["benchmarks"][wc.benchmark]}, "dtype": dtype,
            **{k: CAPABILITY[k] for k in ("device", "batch_size", "max_length", "seed", "limit")}}


def capability_files(models):
    return [f"{RESULTS}/capability/{model}/{stage}/{bench}/{lang}.json"
            for model in models for bench, lang in CAPABILITY_TASKS for stage in CAPABILITY_STAGES]


def table3_toxicity():
    """The main scorer's per-language metrics of both stages, for Table 3's languages that are also configured ones
    (the figure's toxicity panel; vi has no RTP-LX prompts)."""
    langs = [lang for lang in CAPABILITY["languages"] if lang in LANGS]
    return [p for model in CAPABILITY_MODELS for stage in CAPABILITY_STAGES
            for p in lang_files("metrics", model, stage, "json", MAIN_SCORER, langs)] if langs else []


def table3_notes():
    notes = [f"Data: {'the local folder data.capability.local_dir' if CAPABILITY_LOCAL else 'the Hugging Face hub'} "
             f"(alexandrainst/m_arc, m_hellaswag, m_mmlu); lm-evaluation-harness; few-shot seed {CAPABILITY['seed']}."]
    if CAPABILITY["limit"]:
        notes.append(f"limit={CAPABILITY['limit']}: only the first {CAPABILITY['limit']} items of each task were "
                     "evaluated; these numbers are not comparable to the paper's.")
    return notes


# ---- interpretability and retrieval ------------------------------------------------------------------------------
def probe_data():
    path = INTERPRET["probe"]["path"]
    return staged("probe", path) if path else source_file(PROBE_SOURCES[INTERPRET["probe"]["source"]])


def probe_settings():
    """Parameter: interpret.probe without its path (the staged input stands for the data, whatever its location)."""
    return {k: v for k, v in INTERPRET["probe"].items() if k != "path"}


def interp_model(wc):
    """Parameter: dtype (interpret.dtype, or the model's own with `model`), family and label of the job's model."""
    cfg = model_cfg(wc.model)
    dtype = INTERPRET["dtype"]
    return {"dtype": cfg["dtype"] if dtype == "model" else dtype, "family": cfg.get("family"),
            "label": label_of(config, wc.model)}


def interpret_slice(*keys):
    """Parameter: only these keys of `interpret`, so editing another key reruns nothing of this rule."""
    return {k: INTERPRET[k] for k in keys}


def model_dtype(wc):
    return model_cfg(wc.model)["dtype"]


# ---- targets -----------------------------------------------------------------------------------------------------
def all_targets():
    """Every table and figure of the configured study (rule all)."""
    targets = []
    tables, figures = f"{RESULTS}/tables", f"{RESULTS}/figures"
    for model in MODELS:
        # DPO curves, language of continuations, scorer agreement (every other scorer against the main one)
        if not model_cfg(model).get("dpo_source"):
            targets += [f"{RESULTS}/dpo/{model}/{stage}/training_curve.png" for stage in dpo_stages(model)]
        targets += [f"{tables}/langid/{model}/langid.csv", f"{tables}/langid/{model}/langid.md",
                    f"{figures}/langid/{model}/langid.png"]
        targets += [f"{tables}/agreement/{model}/base/{MAIN_SCORER}_vs_{other}.md" for other in SCORERS[1:]]
        for scorer in SCORERS:
            targets += [f"{tables}/{scorer}/{model}/table2.{ext}" for ext in ("csv", "md", "tex")]
            targets.append(f"{figures}/{scorer}/{model}/figure1.png")
            targets += [f"{tables}/{scorer}/{model}/language_aware.{ext}" for ext in ("csv", "md")]
            targets.append(f"{figures}/{scorer}/{model}/language_aware.png")
            if len(seed_stages(config, model)) > 1:
                targets += [f"{tables}/{scorer}/{model}/seeds.csv", f"{figures}/{scorer}/{model}/figure1_seeds.png"]
            if len(lr_stages(config, model)) > 1:
                targets.append(f"{figures}/{scorer}/{model}/figure11.png")
        if FLUENCY:
            targets.append(f"{figures}/fluency/{model}/figure10.png")
    if VALIDATION["enabled"]:
        for scorer in SCORERS:
            targets += [f"{VALID}/{scorer}/validation.{ext}" for ext in ("csv", "md", "png")]
            if VALIDATION["consistency"]:
                targets += [f"{VALID}/{scorer}/consistency.{ext}" for ext in ("csv", "md", "png")]
    for scorer in SCORERS:
        targets += [f"{tables}/{scorer}/table2.{ext}" for ext in ("csv", "md", "tex")]
        if EVAL["table1"]["enabled"] and table1_languages(config):
            targets += [f"{tables}/{scorer}/table1.md", f"{tables}/{scorer}/table1.csv"]
        if figure12_runs(config):
            targets.append(f"{figures}/{scorer}/figure12.png")
        if paper_models():
            targets.append(f"{tables}/{scorer}/paper_comparison.md")
    for model in INTERPRET_MODELS:  # interpretability (Figure 2 with the main scorer)
        d = f"{INTERP}/{model}"
        targets += [f"{d}/{out}" for out in ("probe/metrics.json", "value_vectors.csv", "projections.csv",
                                             "table4.md", "tables8_9.md", "table5.md", "figure3.png")]
        targets.append(f"{d}/figure2/{MAIN_SCORER}.png")
    if CAPABILITY_MODELS:
        targets += [f"{tables}/table3.{ext}" for ext in ("csv", "md", "tex")]
        targets += [f"{tables}/table3_paper_comparison.md", f"{figures}/table3.png"]
    for model in RETRIEVAL_MODELS:
        targets += [f"{RETR}/{model}/measures.json", f"{RETR}/{model}/layers.png",
                    f"{RETR}/{model}/{MAIN_SCORER}/figure4.png"]
    return targets


# ---- remote scoring cost (before any job) ------------------------------------------------------------------------
def prompt_count(lang):
    prompts = config["data"]["prompts"]
    counted = None
    if prompts["path"]:
        with open(find_in_folder(prompts["path"], lang), encoding="utf-8") as handle:
            counted = sum(1 for line in handle if line.strip())
    return prompts_per_language(prompts["release"], lang, prompts["max_prompts_per_lang"], counted)


def perspective_cost():
    """Requests of every Perspective job of the plan (Table 2's scores, Figure 2's continuations, the validation)."""
    if "perspective" not in SCORERS:
        return None
    n_samples = config["generation"]["n_samples"]
    jobs = [(prompt_count(lang) * n_samples, Path(f"{RESULTS}/scores/perspective/{model}/{stage}/{lang}.jsonl").exists())
            for model in MODELS for stage in stages(model) for lang in LANGS]
    if MAIN_SCORER == "perspective":
        cap = INTERPRET["figures_max_prompts"]
        per_model = sum(min(prompt_count(lang), cap or prompt_count(lang)) for lang in LANGS)
        jobs += [(per_model * len(INTERPRET["figure2"]["offsets"]),
                  Path(f"{INTERP}/{model}/figure2/perspective.csv").exists()) for model in INTERPRET_MODELS]
    if VALIDATION["enabled"]:  # rated RTP-LX prompts of all 17 languages, and the parallel prompts
        cap = VALIDATION["max_per_lang"]
        rated = sum(min(n, cap) if cap else n for n in RTPLX_PROMPTS["v0.2"].values())
        jobs.append((rated, Path(f"{VALID}/perspective/validation.csv").exists()))
        if VALIDATION["consistency"]:
            jobs.append((len(PAPER_LANGUAGES) * (VALIDATION["consistency_prompts"] or 200),
                         Path(f"{VALID}/perspective/consistency.csv").exists()))
    return estimate("Perspective API", jobs, config["scoring"]["perspective"]["rate"])


PERSPECTIVE_COST = perspective_cost() if workflow.is_main_process else None
if PERSPECTIVE_COST is not None:
    logger.info(describe(PERSPECTIVE_COST, "scoring.perspective.rate"))
    if over_budget(PERSPECTIVE_COST, config["scoring"]["perspective"]["budget_hours"]):
        action = config["scoring"]["perspective"]["over_budget"]
        logger.warning(budget_message(PERSPECTIVE_COST, config["scoring"]["perspective"]["budget_hours"],
                                      "scoring.perspective")
                       + ("; a real run stops here before any job" if action == "error" else ""))


onstart:
    if (PERSPECTIVE_COST is not None and config["scoring"]["perspective"]["over_budget"] == "error"
            and over_budget(PERSPECTIVE_COST, config["scoring"]["perspective"]["budget_hours"])):
        raise WorkflowError(budget_message(PERSPECTIVE_COST, config["scoring"]["perspective"]["budget_hours"],
                                           "scoring.perspective"))
