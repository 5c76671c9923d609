# Config checks, paths, input functions and targets of the evaluation rules (evaluate.smk includes this file).
from xdetox.evaluation import (
    check_evaluation_config,
    describe_evaluator,
    diversity_tokenizer_name,
    evaluator_label,
    fluency_evaluator_name,
    hub_folder_name,
    resolve_evaluator,
    table1_languages,
    table1_model,
)
from xdetox.stages import figure12_runs, lr_stages, seed_stages

try:
    check_evaluation_config(config)
except XdetoxError as err:
    raise WorkflowError(str(err))

EVAL = config["evaluation"]
FLUENCY = EVAL["fluency"]["enabled"]
DIVERSITY = EVAL["diversity"]["enabled"]
REPORT = "../report"


def evaluator_path(name):
    """Checkpoint folder of an evaluator name: a model's base checkpoint, a local folder, or a downloaded hub id."""
    kind, value = resolve_evaluator(config, name)
    if kind == "model":
        return base_model_dir(value)
    if kind == "path":
        return value
    return f"{RESOURCES}/models/evaluators/{hub_folder_name(value, EVAL['fluency']['revision'])}"


HUB_EVALUATORS = {}
for _name in (fluency_evaluator_name(config), diversity_tokenizer_name(config)):
    if _name is not None and resolve_evaluator(config, _name)[0] == "hub":
        _rev = EVAL["fluency"]["revision"]
        HUB_EVALUATORS[hub_folder_name(_name, _rev)] = {"id": _name, "revision": _rev}


QUALITY_CACHE = f"{RESOURCES}/quality-cache"
#: kind -> evaluator checkpoint folder, value-changing settings and the name shown in captions (enabled kinds only)
QUALITY_KINDS = {}
if FLUENCY:
    QUALITY_KINDS["fluency"] = {
        "evaluator_dir": evaluator_path(fluency_evaluator_name(config)),
        "settings": EVAL["fluency"],
        "name": str(resolve_evaluator(config, fluency_evaluator_name(config))[1]),
    }
if DIVERSITY:
    QUALITY_KINDS["diversity"] = {
        "evaluator_dir": evaluator_path(diversity_tokenizer_name(config)),
        "settings": {},
        "name": str(resolve_evaluator(config, diversity_tokenizer_name(config))[1]),
    }


def quality_inputs(wildcards):
    """The evaluator checkpoints (so their download or conversion runs first)."""
    return {f"{kind}_evaluator": spec["evaluator_dir"] for kind, spec in QUALITY_KINDS.items()}


def quality_outputs():
    out = {}
    if FLUENCY:
        out["fluency_values"] = f"{RESULTS}/fluency/{{model}}/{{stage}}/{{lang}}.jsonl"
        out["fluency_summary"] = f"{RESULTS}/fluency/{{model}}/{{stage}}/{{lang}}.json"
    if DIVERSITY:
        out["diversity_summary"] = f"{RESULTS}/diversity/{{model}}/{{stage}}/{{lang}}.json"
    return out


def label_of(model):
    return model_cfg(model).get("label", model)


def lang_files(kind, model, stage, ext, scorer=None):
    prefix = f"{RESULTS}/{kind}/{scorer}" if scorer else f"{RESULTS}/{kind}"
    return [f"{prefix}/{model}/{stage}/{lang}.{ext}" for lang in LANGS]


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


def table2_notes(model=None):
    notes = []
    if FLUENCY:
        notes.append(describe_evaluator(config, model))
    if DIVERSITY:
        tok = diversity_tokenizer_name(config)
        kind, value = resolve_evaluator(config, tok)
        who = f"the tokenizer of `{value}`" + (" (base checkpoint)" if kind == "model" else "")
        notes.append(f"Dist-n: distinct n-grams / total tokens per prompt over its samples (the reference's definition), "
                     f"mean over prompts; {who}" + ("" if value == "google/mt5-xl" else " (the paper: google/mt5-xl)") + ".")
    boot = EVAL["bootstrap"]
    if boot["n"]:
        notes.append(f"Per-language {boot['ci']:.0%} bootstrap intervals over prompts ({boot['n']} resamples) are in "
                     "per_language.csv and the metrics JSON files.")
    return notes


def paper_models():
    return [m for m in MODELS if model_cfg(m).get("paper_reference")]


def evaluation_targets():
    targets = []
    for scorer in SCORERS:
        tables, figures = f"{RESULTS}/tables/{scorer}", f"{RESULTS}/figures/{scorer}"
        targets += [f"{tables}/table2.{ext}" for ext in ("csv", "md", "tex")]
        for model in MODELS:
            targets.append(f"{tables}/{model}/table2.tex")
            if len(seed_stages(config, model)) > 1:
                targets += [f"{tables}/{model}/seeds.csv", f"{figures}/{model}/figure1_seeds.png"]
            if len(lr_stages(config, model)) > 1:
                targets += [f"{figures}/{model}/figure11.png"]
        if EVAL["table1"]["enabled"] and table1_languages(config):
            targets += [f"{tables}/table1.md", f"{tables}/table1.csv"]
        if figure12_runs(config):
            targets += [f"{figures}/figure12.png"]
        if paper_models():
            targets += [f"{tables}/paper_comparison.md"]
    if FLUENCY:
        targets += [f"{RESULTS}/figures/fluency/{model}/figure10.png" for model in MODELS]
    return targets


def seeds_inputs(wc):
    d = flat("base", stage_inputs(wc.scorer, wc.model, "base"))
    for seed, stage in seed_stages(config, wc.model).items():
        d.update(flat(f"seed{seed}", stage_inputs(wc.scorer, wc.model, stage)))
    return d


def figure11_inputs(wc):
    d = flat("base", stage_inputs(wc.scorer, wc.model, "base"))
    for i, (lr, stage) in enumerate(lr_stages(config, wc.model).items()):
        d.update(flat(f"lr{i}", stage_inputs(wc.scorer, wc.model, stage)))
    return d


def figure12_series(scorer):
    (model, stage), (other, other_stage) = figure12_runs(config)

    def method(m, s):
        hp = dpo_hparams(m, s)
        name = {"full": "full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}[hp["method"]]
        return name if m == model else f"{name}, {label_of(m)}"

    return {
        "Pre DPO": lang_files("metrics", model, "base", "json", scorer),
        f"DPO ({method(model, stage)})": lang_files("metrics", model, stage, "json", scorer),
        f"DPO ({method(other, other_stage)})": lang_files("metrics", other, other_stage, "json", scorer),
    }
