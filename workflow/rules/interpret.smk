# Mechanistic interpretability (paper §4) for each model with `interpret: true`, any supported family
# (xdetox.steps.interpret): probe → value vectors (potential/actual sources) → projections (Tables 4, 8, 9),
# intervention (Table 5, Figure 2), activations before and after DPO (Figure 3). Outputs under results/interpret/{model}/.
# Each rule receives only the keys of `interpret` it reads, and Figure 2 only its scorer's section of `scoring`.


rule interp_probe:
    """Linear toxicity probe on the base model's mean-pooled last hidden state (Table 7 hyperparameters)."""
    input:
        model=base_model,
        data=probe_data(),
    output:
        probe=f"{INTERP}/{{model}}/probe/probe.pt",
        metrics=report(f"{INTERP}/{{model}}/probe/metrics.json", caption=f"{REPORT}/interp_probe.rst",
                       category="Interpretability", labels={"model": "{model}", "output": "probe"}),
        history=f"{INTERP}/{{model}}/probe/history.csv",
    params:
        probe=probe_settings(),
        model=interp_model,
    log:
        f"{LOGS}/interpret/{{model}}/probe.log",
    benchmark:
        f"{BENCHMARKS}/interpret/{{model}}/probe.tsv"
    conda:
        CORE_ENV
    threads: threads_for("generate")
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=60,
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/interp_probe.py"


rule interp_value_vectors:
    """Top-k value vectors by cosine with the probe; actual sources = positive mean activation on English prompts."""
    input:
        model=base_model,
        probe=f"{INTERP}/{{model}}/probe/probe.pt",
        prompts=f"{RESOURCES}/data/prompts/en.jsonl",
    output:
        report(f"{INTERP}/{{model}}/value_vectors.csv", caption=f"{REPORT}/value_vectors.rst",
               category="Interpretability", labels={"model": "{model}", "output": "value vectors"}),
    params:
        interpret=interpret_slice("top_k", "n_tokens", "batch_size", "max_prompts", "prepend_bos"),
        model=interp_model,
    log:
        f"{LOGS}/interpret/{{model}}/value_vectors.log",
    benchmark:
        f"{BENCHMARKS}/interpret/{{model}}/value_vectors.tsv"
    conda:
        CORE_ENV
    threads: threads_for("generate")
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=60,
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/interp_value_vectors.py"


rule interp_projections:
    """Top promoted tokens of each actual source (Tables 4, 8, 9 analogues)."""
    input:
        model=base_model,
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
    output:
        csv=f"{INTERP}/{{model}}/projections.csv",
        table4=report(f"{INTERP}/{{model}}/table4.md", caption=f"{REPORT}/projections.rst",
                      category="Interpretability", labels={"model": "{model}", "output": "Table 4"}),
        tables89=report(f"{INTERP}/{{model}}/tables8_9.md", caption=f"{REPORT}/projections.rst",
                        category="Interpretability", labels={"model": "{model}", "output": "Tables 8-9"}),
    params:
        interpret=interpret_slice("projection_tokens", "table4_vectors"),
        model=interp_model,
    log:
        f"{LOGS}/interpret/{{model}}/projections.log",
    benchmark:
        f"{BENCHMARKS}/interpret/{{model}}/projections.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=20,
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/interp_projections.py"


rule interp_table5:
    """Greedy continuations with γ = 0 and γ = table5.offset on a few actual sources (Table 5 analogue)."""
    input:
        model=base_model,
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
    output:
        csv=report(f"{INTERP}/{{model}}/table5.csv", caption=f"{REPORT}/table5.rst", category="Interpretability",
                   labels={"model": "{model}", "output": "Table 5"}),
        md=f"{INTERP}/{{model}}/table5.md",
    params:
        interpret=interpret_slice("table5", "batch_size", "prepend_bos"),
        model=interp_model,
    log:
        f"{LOGS}/interpret/{{model}}/table5.log",
    benchmark:
        f"{BENCHMARKS}/interpret/{{model}}/table5.tsv"
    conda:
        CORE_ENV
    threads: threads_for("generate")
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=20,
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/interp_table5.py"


rule interp_figure2:
    """Average toxicity per language vs a negative offset on all actual sources (Figure 2 analogue)."""
    input:
        model=base_model,
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
        prompts=prompt_files(LANGS),
    output:
        csv=report(f"{INTERP}/{{model}}/figure2/{{scorer}}.csv", caption=f"{REPORT}/interp_figure2.rst",
                   category="Interpretability", subcategory="{scorer}",
                   labels={"model": "{model}", "output": "Figure 2 values"}),
        png=report(f"{INTERP}/{{model}}/figure2/{{scorer}}.png", caption=f"{REPORT}/interp_figure2.rst",
                   category="Interpretability", subcategory="{scorer}",
                   labels={"model": "{model}", "output": "Figure 2"}),
        generations=f"{INTERP}/{{model}}/figure2/{{scorer}}.generations.jsonl",
    params:
        interpret=interpret_slice("figure2", "n_tokens", "batch_size", "figures_max_prompts", "prepend_bos"),
        scorer_settings=scorer_settings,
        score_cache=SCORE_CACHE,
        langs=LANGS,
        model=interp_model,
    log:
        f"{LOGS}/interpret/{{model}}/figure2/{{scorer}}.log",
    benchmark:
        f"{BENCHMARKS}/interpret/{{model}}/figure2/{{scorer}}.tsv"
    conda:
        CORE_ENV
    threads: threads_for("generate")
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=120,
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/interp_figure2.py"


rule interp_figure3:
    """Mean activation of the actual sources per language, base vs DPO model (Figure 3 analogue)."""
    input:
        base=base_model,
        dpo=dpo_model,
        value_vectors=f"{INTERP}/{{model}}/value_vectors.csv",
        prompts=prompt_files(LANGS),
    output:
        csv=report(f"{INTERP}/{{model}}/figure3.csv", caption=f"{REPORT}/interp_figure3.rst",
                   category="Interpretability", labels={"model": "{model}", "output": "Figure 3 values"}),
        neurons=f"{INTERP}/{{model}}/figure3_neurons.csv",
        png=report(f"{INTERP}/{{model}}/figure3.png", caption=f"{REPORT}/interp_figure3.rst",
                   category="Interpretability", labels={"model": "{model}", "output": "Figure 3"}),
    params:
        interpret=interpret_slice("n_tokens", "batch_size", "figures_max_prompts", "prepend_bos"),
        langs=LANGS,
        model=interp_model,
    log:
        f"{LOGS}/interpret/{{model}}/figure3.log",
    benchmark:
        f"{BENCHMARKS}/interpret/{{model}}/figure3.tsv"
    conda:
        CORE_ENV
    threads: threads_for("generate")
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=120,
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/interp_figure3.py"
