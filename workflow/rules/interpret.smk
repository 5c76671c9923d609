# Mechanistic interpretability (paper §4; protocol §3) for each model with `interpret: true`, any supported family.
# probe → value vectors (potential/actual sources) → projections (Tables 4, 8, 9), intervention (Table 5, Figure 2),
# activations before and after DPO (Figure 3). Outputs under results/interpret/{model}/.

from xdetox.interp.probe import PROBE_SOURCES
from xdetox.interp.workflow import interpret_targets, model_params

INTERPRET = config["interpret"]
INTERP = f"{RESULTS}/interpret"


rule interp_probe:
    """Linear toxicity probe on the base model's mean-pooled last hidden state (Table 7 hyperparameters)."""
    input:
        model=lambda wc: model_dir(wc.model, "base"),
        data=INTERPRET["probe"]["path"] or source_file(PROBE_SOURCES[INTERPRET["probe"]["source"]]),
    output:
        probe=f"{INTERP}/{{model}}/probe/probe.pt",
        metrics=f"{INTERP}/{{model}}/probe/metrics.json",
        history=f"{INTERP}/{{model}}/probe/history.csv",
    params:
        probe=INTERPRET["probe"],
        model=lambda wc: model_params(config, wc.model),
    log:
        f"{LOGS}/interpret/{{model}}/probe.log",
    conda:
        "../../envs/core.yaml"
    threads: threads_for("generate")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=60,
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/interp_probe.py"


rule interp_value_vectors:
    """Top-k value vectors by cosine with the probe; actual sources = positive mean activation on English prompts."""
    input:
        model=lambda wc: model_dir(wc.model, "base"),
        probe=f"{INTERP}/{{model}}/probe/probe.pt",
        prompts=f"{RESOURCES}/data/prompts/en.jsonl",
    output:
        f"{INTERP}/{{model}}/value_vectors.csv",
    params:
        # only the keys this step reads, so editing another key reruns nothing here
        interpret={k: INTERPRET[k] for k in ("top_k", "n_tokens", "batch_size", "max_prompts")},
        model=lambda wc: model_params(config, wc.model),
    log:
        f"{LOGS}/interpret/{{model}}/value_vectors.log",
    conda:
        "../../envs/core.yaml"
    threads: threads_for("generate")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=60,
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/interp_value_vectors.py"


rule interp_projections:
    """Top promoted tokens of each actual source (Tables 4, 8, 9 analogues)."""
    input:
        model=lambda wc: model_dir(wc.model, "base"),
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
    output:
        csv=f"{INTERP}/{{model}}/projections.csv",
        table4=f"{INTERP}/{{model}}/table4.md",
        tables89=f"{INTERP}/{{model}}/tables8_9.md",
    params:
        interpret={k: INTERPRET[k] for k in ("projection_tokens", "table4_vectors")},
        model=lambda wc: model_params(config, wc.model),
    log:
        f"{LOGS}/interpret/{{model}}/projections.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=20,
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/interp_projections.py"


rule interp_table5:
    """Greedy continuations with γ = 0 and γ = table5.offset on a few actual sources (Table 5 analogue)."""
    input:
        model=lambda wc: model_dir(wc.model, "base"),
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
    output:
        csv=f"{INTERP}/{{model}}/table5.csv",
        md=f"{INTERP}/{{model}}/table5.md",
    params:
        interpret={k: INTERPRET[k] for k in ("table5", "batch_size")},
        model=lambda wc: model_params(config, wc.model),
    log:
        f"{LOGS}/interpret/{{model}}/table5.log",
    conda:
        "../../envs/core.yaml"
    threads: threads_for("generate")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=20,
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/interp_table5.py"


rule interp_figure2:
    """Average toxicity per language vs a negative offset on all actual sources (Figure 2 analogue)."""
    input:
        model=lambda wc: model_dir(wc.model, "base"),
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
        prompts=expand(f"{RESOURCES}/data/prompts/{{lang}}.jsonl", lang=LANGS),
    output:
        csv=f"{INTERP}/{{model}}/figure2/{{scorer}}.csv",
        png=f"{INTERP}/{{model}}/figure2/{{scorer}}.png",
        generations=f"{INTERP}/{{model}}/figure2/{{scorer}}.generations.jsonl",
    params:
        interpret={k: INTERPRET[k] for k in ("figure2", "n_tokens", "batch_size", "figures_max_prompts")},
        scoring=config["scoring"],
        langs=LANGS,
        model=lambda wc: model_params(config, wc.model),
    log:
        f"{LOGS}/interpret/{{model}}/figure2/{{scorer}}.log",
    conda:
        "../../envs/core.yaml"
    threads: threads_for("generate")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=120,
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/interp_figure2.py"


rule interp_figure3:
    """Mean activation of the actual sources per language, base vs DPO model (Figure 3 analogue)."""
    input:
        base=lambda wc: model_dir(wc.model, "base"),
        dpo=lambda wc: model_dir(wc.model, "dpo"),
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
        prompts=expand(f"{RESOURCES}/data/prompts/{{lang}}.jsonl", lang=LANGS),
    output:
        csv=f"{INTERP}/{{model}}/figure3.csv",
        neurons=f"{INTERP}/{{model}}/figure3_neurons.csv",
        png=f"{INTERP}/{{model}}/figure3.png",
    params:
        interpret={k: INTERPRET[k] for k in ("n_tokens", "batch_size", "figures_max_prompts")},
        langs=LANGS,
        model=lambda wc: model_params(config, wc.model),
    log:
        f"{LOGS}/interpret/{{model}}/figure3.log",
    conda:
        "../../envs/core.yaml"
    threads: threads_for("generate")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=120,
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/interp_figure3.py"
