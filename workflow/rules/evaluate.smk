# Evaluation: per-language metrics (toxicity with bootstrap CIs, fluency, diversity), then Tables 1-2 and
# Figures 1, 5-12, the DPO-seed summary, the comparison with the paper's numbers, and the HTML report's captions.
# Each target is built only when the config asks for what it needs (docs/evaluation.md).


include: "evaluate_common.smk"


report: f"{REPORT}/workflow.rst"


wildcard_constraints:
    evaluator=r"[^/]+",


rule evaluator_model:
    """A hub evaluator (e.g. google/mt5-xl) for fluency or diversity, downloaded once into resources/."""
    output:
        directory(f"{RESOURCES}/models/evaluators/{{evaluator}}"),
    params:
        hub=lambda wc: HUB_EVALUATORS[wc.evaluator],
    log:
        f"{LOGS}/models/evaluators/{{evaluator}}.log",
    conda:
        "../../envs/core.yaml"
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
    conda:
        "../../envs/core.yaml"
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
            generations=lambda wc: [ancient(p) for p in lang_files("generations", wc.model, wc.stage, "jsonl")],
            generation_stage=f"{RESULTS}/generations/{{model}}/{{stage}}/manifest.json",
        output:
            f"{RESULTS}/quality/{{model}}/{{stage}}/manifest.json",
        params:
            kinds=QUALITY_KINDS,
            langs=LANGS,
            cache_dir=QUALITY_CACHE,
            namespace=lambda wc: f"{wc.model}/{wc.stage}",
        log:
            f"{LOGS}/quality/{{model}}/{{stage}}/stage.log",
        conda:
            "../../envs/core.yaml"
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
            kinds=QUALITY_KINDS,
            cache_dir=QUALITY_CACHE,
            namespace=lambda wc: f"{wc.model}/{wc.stage}",
            siblings=lambda wc: dict(zip(LANGS, lang_files("generations", wc.model, wc.stage, "jsonl"))),
            bootstrap=EVAL["bootstrap"],
        log:
            f"{LOGS}/quality/{{model}}/{{stage}}/{{lang}}.log",
        conda:
            "../../envs/core.yaml"
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
        unpack(lambda wc: {**flat("base", stage_inputs(wc.scorer, wc.model, "base")),
                           **flat("dpo", stage_inputs(wc.scorer, wc.model, "dpo"))}),
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
        label=lambda wc: label_of(wc.model),
        notes=lambda wc: table2_notes(wc.model),
    log:
        f"{LOGS}/tables/{{scorer}}/{{model}}/table2.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/table2.py"


rule table2_all:
    """Table 2 for all configured models (CSV, Markdown, LaTeX)."""
    input:
        expand(f"{RESULTS}/tables/{{{{scorer}}}}/{{model}}/table2.csv", model=MODELS),
    output:
        csv=report(f"{RESULTS}/tables/{{scorer}}/table2.csv", caption=f"{REPORT}/table2.rst", category="Table 2",
                   subcategory="{scorer}", labels={"model": "all", "table": "Table 2"}),
        md=f"{RESULTS}/tables/{{scorer}}/table2.md",
        tex=f"{RESULTS}/tables/{{scorer}}/table2.tex",
    params:
        n_languages=len(LANGS),
        notes=table2_notes(MODELS[0] if len(MODELS) == 1 else None),
    log:
        f"{LOGS}/tables/{{scorer}}/table2_all.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/table2_all.py"


rule table1:
    """Table 1: for a few prompts per language, the most toxic base continuation and the DPO one (same sample)."""
    input:
        base_gens=lambda wc: [f"{RESULTS}/generations/{table1_model(config)}/base/{l}.jsonl" for l in table1_languages(config)],
        base_scores=lambda wc: [f"{RESULTS}/scores/{wc.scorer}/{table1_model(config)}/base/{l}.jsonl" for l in table1_languages(config)],
        dpo_gens=lambda wc: [f"{RESULTS}/generations/{table1_model(config)}/{EVAL['table1']['stage']}/{l}.jsonl" for l in table1_languages(config)],
        dpo_scores=lambda wc: [f"{RESULTS}/scores/{wc.scorer}/{table1_model(config)}/{EVAL['table1']['stage']}/{l}.jsonl" for l in table1_languages(config)],
    output:
        md=f"{RESULTS}/tables/{{scorer}}/table1.md",
        csv=report(f"{RESULTS}/tables/{{scorer}}/table1.csv", caption=f"{REPORT}/table1.rst", category="Table 1",
                   subcategory="{scorer}", labels={"table": "Table 1"}),
    params:
        langs=table1_languages(config),
        label=label_of(table1_model(config)),
        table1=EVAL["table1"],
    log:
        f"{LOGS}/tables/{{scorer}}/table1.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/table1.py"


rule figure1:
    """Figure 1 (and 5–9 for other models): per-language toxicity probability and EMT, pre vs post DPO."""
    input:
        base=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/base/{{lang}}.json", lang=LANGS),
        dpo=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/dpo/{{lang}}.json", lang=LANGS),
    output:
        png=report(f"{RESULTS}/figures/{{scorer}}/{{model}}/figure1.png", caption=f"{REPORT}/figure1.rst",
                   category="Figures 1, 5-9", subcategory="{scorer}", labels={"model": "{model}", "figure": "per language"}),
    params:
        langs=LANGS,
        label=lambda wc: label_of(wc.model),
        scorer=lambda wc: wc.scorer,
    log:
        f"{LOGS}/figures/{{scorer}}/{{model}}/figure1.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure1.py"


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
        label=lambda wc: label_of(wc.model),
        seeds=lambda wc: list(seed_stages(config, wc.model)),
    log:
        f"{LOGS}/tables/{{scorer}}/{{model}}/seeds.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/seeds.py"


rule figure10:
    """Figure 10: perplexity distributions per language, box and violin plots, pre vs post DPO."""
    input:
        base=lambda wc: lang_files("fluency", wc.model, "base", "jsonl"),
        dpo=lambda wc: lang_files("fluency", wc.model, "dpo", "jsonl"),
    output:
        png=report(f"{RESULTS}/figures/fluency/{{model}}/figure10.png", caption=f"{REPORT}/figure10.rst",
                   category="Figure 10", labels={"model": "{model}", "figure": "perplexity"}),
    params:
        langs=LANGS,
        label=lambda wc: label_of(wc.model),
        evaluator=evaluator_label(config),
    log:
        f"{LOGS}/figures/fluency/{{model}}/figure10.log",
    conda:
        "../../envs/core.yaml"
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
                   category="Figure 11", subcategory="{scorer}", labels={"model": "{model}", "figure": "lr sweep"}),
        csv=f"{RESULTS}/figures/{{scorer}}/{{model}}/figure11.csv",
    params:
        label=lambda wc: label_of(wc.model),
        rates=lambda wc: [[lr, stage] for lr, stage in lr_stages(config, wc.model).items()],
        evaluator=evaluator_label(config) if FLUENCY else None,
    log:
        f"{LOGS}/figures/{{scorer}}/{{model}}/figure11.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure11.py"


rule figure12:
    """Figure 12: full fine-tuning vs (Q)LoRA DPO per language (evaluation.figure12)."""
    input:
        lambda wc: [p for paths in figure12_series(wc.scorer).values() for p in paths],
    output:
        png=report(f"{RESULTS}/figures/{{scorer}}/figure12.png", caption=f"{REPORT}/figure12.rst",
                   category="Figure 12", subcategory="{scorer}", labels={"figure": "full vs (Q)LoRA"}),
        csv=f"{RESULTS}/figures/{{scorer}}/figure12.csv",
    params:
        langs=LANGS,
        series=lambda wc: figure12_series(wc.scorer),
        label=lambda wc: label_of(figure12_runs(config)[0][0]),
    log:
        f"{LOGS}/figures/{{scorer}}/figure12.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure12.py"


rule paper_comparison:
    """Our Table 2 beside the paper's numbers, for models with `paper_reference`."""
    input:
        lambda wc: [f"{RESULTS}/tables/{wc.scorer}/{m}/table2.csv" for m in paper_models()],
    output:
        md=f"{RESULTS}/tables/{{scorer}}/paper_comparison.md",
        csv=report(f"{RESULTS}/tables/{{scorer}}/paper_comparison.csv", caption=f"{REPORT}/paper_comparison.rst",
                   category="Comparison with the paper", subcategory="{scorer}", labels={"table": "paper vs ours"}),
    params:
        entries=lambda wc: [
            {"label": label_of(m), "paper_reference": model_cfg(m)["paper_reference"],
             "table2_csv": f"{RESULTS}/tables/{wc.scorer}/{m}/table2.csv"}
            for m in paper_models()
        ],
        notes=table2_notes(),
    log:
        f"{LOGS}/tables/{{scorer}}/paper_comparison.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/paper_comparison.py"
