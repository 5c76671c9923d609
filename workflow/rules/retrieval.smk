# Bilingual sentence retrieval (paper §5, App. E; protocol §4) for each model with `retrieval: true`:
# aligned sentences → per-layer representations of the base model (one .npz per (model, language)) → retrieval measures
# against English (+ per-layer figure) → %EMT change vs retrieval, Pearson/Spearman, Figure 4 (13–15 for other models).

RETRIEVAL = config["retrieval"]
RETR = f"{RESULTS}/retrieval"
# retrieval is measured against English, which is a retrieval language even if not a configured one
RETRIEVAL_LANGS = LANGS if "en" in LANGS else ["en"] + LANGS
RETRIEVAL_SENTENCES = f"{RESOURCES}/data/parallel/{RETRIEVAL['dataset']}"


RETRIEVAL_MODELS = [m for m in MODELS if model_cfg(m).get("retrieval")]
# called by all_targets() in common.smk (a lambda: functions belong in common.smk, rules here)
retrieval_targets = lambda: [
    target
    for model in RETRIEVAL_MODELS
    for target in (
        f"{RETR}/{model}/measures.json",
        f"{RETR}/{model}/layers.png",
        f"{RETR}/{model}/{MAIN_SCORER}/figure4.png",
    )
]


rule retrieval_sentences:
    """Multi-way parallel sentences, checked for line alignment across all languages, one file per language."""
    input:
        [source_file(parallel_relpath(RETRIEVAL["dataset"], lang)) for lang in RETRIEVAL_LANGS],
    output:
        expand(f"{RETRIEVAL_SENTENCES}/{{lang}}.jsonl", lang=RETRIEVAL_LANGS),
    params:
        dataset=RETRIEVAL["dataset"],
        langs=RETRIEVAL_LANGS,
        max_sentences=RETRIEVAL["max_sentences"],
    log:
        f"{LOGS}/retrieval/sentences.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/retrieval_sentences.py"


rule retrieval_representations:
    """Mean-pooled hidden states at every layer (embedding output included) of the base model: the model is loaded
    once, then one pass per language, one .npz per (model, language)."""
    input:
        model=lambda wc: model_dir(wc.model, "base"),
        sentences=expand(f"{RETRIEVAL_SENTENCES}/{{lang}}.jsonl", lang=RETRIEVAL_LANGS),
    output:
        expand(f"{RETR}/{{{{model}}}}/representations/{{lang}}.npz", lang=RETRIEVAL_LANGS),
    params:
        langs=RETRIEVAL_LANGS,
        retrieval=RETRIEVAL,
        dtype=lambda wc: model_cfg(wc.model)["dtype"],
    log:
        f"{LOGS}/retrieval/{{model}}/representations.log",
    conda:
        "../../envs/core.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", RETRIEVAL["mem_mb"]),
        runtime=RETRIEVAL["runtime"],
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/retrieval_representations.py"


rule retrieval_measures:
    """Top-1 retrieval accuracy (en→x, x→en) and mean paired cosine per layer and averaged, per language."""
    input:
        expand(f"{RETR}/{{{{model}}}}/representations/{{lang}}.npz", lang=RETRIEVAL_LANGS),
    output:
        csv=f"{RETR}/{{model}}/measures.csv",
        json=f"{RETR}/{{model}}/measures.json",
        png=f"{RETR}/{{model}}/layers.png",
    params:
        langs=RETRIEVAL_LANGS,
        label=lambda wc: model_cfg(wc.model).get("label", wc.model),
        dataset=RETRIEVAL["dataset"],
    log:
        f"{LOGS}/retrieval/{{model}}/measures.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/retrieval_measures.py"


rule retrieval_figure4:
    """%EMT change after English DPO vs retrieval over the non-English languages: Pearson, Spearman, Figure 4."""
    input:
        measures=f"{RETR}/{{model}}/measures.json",
        base=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/base/{{lang}}.json", lang=LANGS),
        dpo=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/dpo/{{lang}}.json", lang=LANGS),
    output:
        png=f"{RETR}/{{model}}/{{scorer}}/figure4.png",
        csv=f"{RETR}/{{model}}/{{scorer}}/predictor.csv",
        json=f"{RETR}/{{model}}/{{scorer}}/predictor.json",
    params:
        langs=LANGS,
        measure=RETRIEVAL["measure"],
        label=lambda wc: model_cfg(wc.model).get("label", wc.model),
        dataset=RETRIEVAL["dataset"],
    log:
        f"{LOGS}/retrieval/{{model}}/{{scorer}}/figure4.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/retrieval_figure4.py"
