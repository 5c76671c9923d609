# Evaluation (xdetox.steps.evaluate): per-language metrics (toxicity with bootstrap CIs, fluency, diversity), then
# Tables 1-2 and Figures 1, 5-12, the DPO-seed summary, the comparison with the paper's numbers, and the HTML report's
# captions. Each target is built only when the config asks for what it needs (docs/evaluation.md).


report: f"{REPORT}/workflow.rst"


rule evaluator_model:
    """A hub evaluator (e.g. google/mt5-xl) for fluency or diversity, downloaded once into resources/."""
    output:
        directory(f"{RESOURCES}/models/evaluators/{{evaluator}}"),
    params:
        hub=hub_evaluator,
    log:
        f"{LOGS}/models/evaluators/{{evaluator}}.log",
    benchmark:
        f"{BENCHMARKS}/models/evaluators/{{evaluator}}.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=2000,
        runtime=60,
    script:
        f"{SCRIPTS}/evaluator_model.py"


rule metrics:
    """EMT, toxicity probability and average toxicity with bootstrap confidence intervals."""
    input:
        f"{RESULTS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.jsonl",
    output:
        f"{RESULTS}/metrics/{{scorer}}/{{model}}/{{stage}}/{{lang}}.json",
    params:
        threshold=config["scoring"]["threshold"],
        bootstrap=EVAL["bootstrap"],
    log:
        f"{LOGS}/metrics/{{scorer}}/{{model}}/{{stage}}/{{lang}}.log",
    benchmark:
        f"{BENCHMARKS}/metrics/{{scorer}}/{{model}}/{{stage}}/{{lang}}.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/metrics.py"


if FLUENCY or DIVERSITY:

    rule quality_stage:
        """Fluency and diversity of every language of one (model, stage) into the cache, one evaluator load."""
        input:
            unpack(quality_inputs),
            generations=stage_generations_ancient,
            generation_stage=f"{RESULTS}/generations/{{model}}/{{stage}}/manifest.json",
        output:
            f"{RESULTS}/quality/{{model}}/{{stage}}/manifest.json",
        params:
            kinds=quality_kinds(),
            langs=LANGS,
            cache_dir=QUALITY_CACHE,
            namespace=namespace,
        log:
            f"{LOGS}/quality/{{model}}/{{stage}}/stage.log",
        benchmark:
            f"{BENCHMARKS}/quality/{{model}}/{{stage}}/stage.tsv"
        conda:
            CORE_ENV
        threads: threads_for("generate")
        resources:
            mem_mb=EVAL["fluency"]["mem_mb"],
            runtime=EVAL["fluency"]["runtime"],
            gpu=EVAL["fluency"]["gpus"] if FLUENCY else 0,
        script:
            f"{SCRIPTS}/quality_stage.py"

    rule quality:
        """One language's perplexities (values + median/Q1/Q3) and Dist-1/2/3, from the cache filled by quality_stage
        (or computed here, with the stage's other missing languages, when only this language's generations changed)."""
        input:
            unpack(quality_inputs),
            generations=f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
            stage=f"{RESULTS}/quality/{{model}}/{{stage}}/manifest.json",
        output:
            **quality_outputs(),
        params:
            kinds=quality_kinds(),
            cache_dir=QUALITY_CACHE,
            namespace=namespace,
            siblings=sibling_generations,
            bootstrap=EVAL["bootstrap"],
        log:
            f"{LOGS}/quality/{{model}}/{{stage}}/{{lang}}.log",
        benchmark:
            f"{BENCHMARKS}/quality/{{model}}/{{stage}}/{{lang}}.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            mem_mb=EVAL["fluency"]["mem_mb"],
            runtime=EVAL["fluency"]["runtime"],
            gpu=EVAL["fluency"]["gpus"] if FLUENCY else 0,
        script:
            f"{SCRIPTS}/quality.py"


rule table2:
    """Table 2 for one model: 17-language averages before and after DPO (toxicity, fluency, diversity)."""
    input:
        unpack(table2_inputs),
    output:
        csv=report(f"{RESULTS}/tables/{{scorer}}/{{model}}/table2.csv", caption=f"{REPORT}/table2_model.rst",
                   category="Table 2", subcategory="{scorer}", labels={"model": "{model}", "table": "Table 2"}),
        md=f"{RESULTS}/tables/{{scorer}}/{{model}}/table2.md",
        tex=f"{RESULTS}/tables/{{scorer}}/{{model}}/table2.tex",
        per_lang=report(f"{RESULTS}/tables/{{scorer}}/{{model}}/per_language.csv",
                        caption=f"{REPORT}/per_language.rst", category="Table 2", subcategory="{scorer}",
                        labels={"model": "{model}", "table": "per language"}),
    params:
        langs=LANGS,
        label=label,
        notes=model_table2_notes,
        validated=validated_scorers,
        threshold=config["scoring"]["threshold"],
        degeneration=EVAL["degeneration"],
    log:
        f"{LOGS}/tables/{{scorer}}/{{model}}/table2.log",
    benchmark:
        f"{BENCHMARKS}/tables/{{scorer}}/{{model}}/table2.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/table2.py"


rule table2_all:
    """Table 2 for all configured models (CSV, Markdown, LaTeX)."""
    input:
        tables=expand(f"{RESULTS}/tables/{{{{scorer}}}}/{{model}}/table2.csv", model=MODELS),
        validation=validation_tables,
    output:
        csv=report(f"{RESULTS}/tables/{{scorer}}/table2.csv", caption=f"{REPORT}/table2.rst", category="Table 2",
                   subcategory="{scorer}", labels={"model": "all", "table": "Table 2"}),
        md=f"{RESULTS}/tables/{{scorer}}/table2.md",
        tex=f"{RESULTS}/tables/{{scorer}}/table2.tex",
    params:
        n_languages=len(LANGS),
        notes=table2_notes(config, MODELS[0] if len(MODELS) == 1 else None),
        validated=validated_scorers,
    log:
        f"{LOGS}/tables/{{scorer}}/table2_all.log",
    benchmark:
        f"{BENCHMARKS}/tables/{{scorer}}/table2_all.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/table2_all.py"


rule table1:
    """Table 1: for a few prompts per language, the most toxic base continuation and the DPO one (same sample)."""
    input:
        unpack(table1_inputs),
    output:
        md=f"{RESULTS}/tables/{{scorer}}/table1.md",
        csv=report(f"{RESULTS}/tables/{{scorer}}/table1.csv", caption=f"{REPORT}/table1.rst", category="Table 1",
                   subcategory="{scorer}", labels={"table": "Table 1"}),
    params:
        langs=table1_languages(config),
        label=label_of(config, table1_model(config)),
        stage=EVAL["table1"]["stage"],
        n_prompts=EVAL["table1"]["n_prompts"],
        prompt_ids=EVAL["table1"]["prompt_ids"],
    log:
        f"{LOGS}/tables/{{scorer}}/table1.log",
    benchmark:
        f"{BENCHMARKS}/tables/{{scorer}}/table1.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/table1.py"


rule figure1:
    """Figure 1 (and 5–9 for other models): per-language toxicity probability and EMT, pre vs post DPO."""
    input:
        unpack(figure1_inputs),
    output:
        png=report(f"{RESULTS}/figures/{{scorer}}/{{model}}/figure1.png", caption=f"{REPORT}/figure1.rst",
                   category="Figures 1, 5-9", subcategory="{scorer}", labels={"model": "{model}", "figure": "per language"}),
    params:
        langs=LANGS,
        label=label,
        degeneration=EVAL["degeneration"],
    log:
        f"{LOGS}/figures/{{scorer}}/{{model}}/figure1.log",
    benchmark:
        f"{BENCHMARKS}/figures/{{scorer}}/{{model}}/figure1.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure1.py"


rule language_aware:
    """Toxicity over all continuations and over those in the prompt's language, per stage and language, and how much of
    each DPO stage's change comes from the change of language mix (xdetox.metrics.language_aware)."""
    input:
        unpack(language_aware_inputs),
    output:
        csv=report(f"{RESULTS}/tables/{{scorer}}/{{model}}/language_aware.csv", caption=f"{REPORT}/language_aware.rst",
                   category="Language-aware toxicity", subcategory="{scorer}",
                   labels={"model": "{model}", "output": "table"}),
        decomposition=f"{RESULTS}/tables/{{scorer}}/{{model}}/language_aware_decomposition.csv",
        md=f"{RESULTS}/tables/{{scorer}}/{{model}}/language_aware.md",
        png=report(f"{RESULTS}/figures/{{scorer}}/{{model}}/language_aware.png",
                   caption=f"{REPORT}/language_aware.rst", category="Language-aware toxicity",
                   subcategory="{scorer}", labels={"model": "{model}", "output": "figure"}),
    params:
        stages=model_stages,
        langs=LANGS,
        label=label,
        threshold=config["scoring"]["threshold"],
    log:
        f"{LOGS}/tables/{{scorer}}/{{model}}/language_aware.log",
    benchmark:
        f"{BENCHMARKS}/tables/{{scorer}}/{{model}}/language_aware.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/language_aware.py"


rule seeds:
    """Figure 1 averaged over DPO seeds (mean ± std across seeds) and Table 2 with mean ± std across seeds."""
    input:
        unpack(seeds_inputs),
    output:
        csv=report(f"{RESULTS}/tables/{{scorer}}/{{model}}/seeds.csv", caption=f"{REPORT}/seeds.rst",
                   category="DPO seeds", subcategory="{scorer}", labels={"model": "{model}", "output": "table"}),
        md=f"{RESULTS}/tables/{{scorer}}/{{model}}/seeds.md",
        png=report(f"{RESULTS}/figures/{{scorer}}/{{model}}/figure1_seeds.png", caption=f"{REPORT}/figure1_seeds.rst",
                   category="DPO seeds", subcategory="{scorer}", labels={"model": "{model}", "output": "figure 1"}),
    params:
        langs=LANGS,
        label=label,
        seeds=seed_list,
    log:
        f"{LOGS}/tables/{{scorer}}/{{model}}/seeds.log",
    benchmark:
        f"{BENCHMARKS}/tables/{{scorer}}/{{model}}/seeds.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/seeds.py"


rule figure10:
    """Figure 10: perplexity distributions per language, box and violin plots, pre vs post DPO."""
    input:
        base=fluency_values_of("base"),
        dpo=fluency_values_of("dpo"),
    output:
        png=report(f"{RESULTS}/figures/fluency/{{model}}/figure10.png", caption=f"{REPORT}/figure10.rst",
                   category="Figure 10", labels={"model": "{model}", "figure": "perplexity"}),
    params:
        langs=LANGS,
        label=label,
        evaluator=evaluator_label(config),
    log:
        f"{LOGS}/figures/fluency/{{model}}/figure10.log",
    benchmark:
        f"{BENCHMARKS}/figures/fluency/{{model}}/figure10.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure10.py"


rule figure11:
    """Figure 11: EMT and perplexity against the DPO learning rate (the dpo.learning_rates sweep)."""
    input:
        unpack(figure11_inputs),
    output:
        png=report(f"{RESULTS}/figures/{{scorer}}/{{model}}/figure11.png", caption=f"{REPORT}/figure11.rst",
                   category="Figure 11", subcategory="{scorer}", labels={"model": "{model}", "output": "figure"}),
        csv=report(f"{RESULTS}/figures/{{scorer}}/{{model}}/figure11.csv", caption=f"{REPORT}/figure11.rst",
                   category="Figure 11", subcategory="{scorer}", labels={"model": "{model}", "output": "values"}),
    params:
        label=label,
        rates=learning_rates,
        evaluator=evaluator_label(config) if FLUENCY else None,
    log:
        f"{LOGS}/figures/{{scorer}}/{{model}}/figure11.log",
    benchmark:
        f"{BENCHMARKS}/figures/{{scorer}}/{{model}}/figure11.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure11.py"


rule figure12:
    """Figure 12: full fine-tuning vs (Q)LoRA DPO per language (evaluation.figure12)."""
    input:
        figure12_inputs,
    output:
        png=report(f"{RESULTS}/figures/{{scorer}}/figure12.png", caption=f"{REPORT}/figure12.rst",
                   category="Figure 12", subcategory="{scorer}", labels={"output": "figure"}),
        csv=report(f"{RESULTS}/figures/{{scorer}}/figure12.csv", caption=f"{REPORT}/figure12.rst",
                   category="Figure 12", subcategory="{scorer}", labels={"output": "values"}),
    params:
        langs=LANGS,
        series=figure12_series,
        label=label_of(config, figure12_runs(config)[0][0]) if figure12_runs(config) else None,
    log:
        f"{LOGS}/figures/{{scorer}}/figure12.log",
    benchmark:
        f"{BENCHMARKS}/figures/{{scorer}}/figure12.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure12.py"


rule paper_comparison:
    """Our Table 2 (and Table 3, when it runs) beside the paper's numbers, for models with `paper_reference`."""
    input:
        paper_comparison_inputs,
    output:
        md=f"{RESULTS}/tables/{{scorer}}/paper_comparison.md",
        csv=report(f"{RESULTS}/tables/{{scorer}}/paper_comparison.csv", caption=f"{REPORT}/paper_comparison.rst",
                   category="Comparison with the paper", subcategory="{scorer}", labels={"table": "paper vs ours"}),
    params:
        entries=paper_entries,
        notes=table2_notes(config),
        table3_paper=paper_table3(),
    log:
        f"{LOGS}/tables/{{scorer}}/paper_comparison.log",
    benchmark:
        f"{BENCHMARKS}/tables/{{scorer}}/paper_comparison.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/paper_comparison.py"
