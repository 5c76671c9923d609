# Toxicity scoring of continuations, one job per (scorer, model, stage, language), and scorer agreement
# (xdetox.steps.score).


rule score:
    """One score record per generation, same order; scores are cached across runs by content
    ({resources_dir}/cache/scores.sqlite)."""
    input:
        f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
    output:
        f"{RESULTS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.jsonl",
    params:
        settings=scorer_settings,
        cache=SCORE_CACHE,
    log:
        f"{LOGS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.log",
    benchmark:
        f"{BENCHMARKS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
        # the Perspective quota is per API key: jobs share it through this global resource (profiles set it to 1)
        perspective_api=perspective_slot,
    script:
        f"{SCRIPTS}/score.py"


rule agreement:
    """Agreement of two scorers on the same generations: per-language Pearson, Spearman and ROC-AUC."""
    input:
        a=agreement_scores("a"),
        b=agreement_scores("b"),
    output:
        csv=report(f"{RESULTS}/tables/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.csv",
                   caption=f"{REPORT}/agreement.rst", category="Scorer agreement",
                   labels={"model": "{model}", "scorers": "{a} vs {b}", "output": "table"}),
        md=f"{RESULTS}/tables/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.md",
        png=report(f"{RESULTS}/figures/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.png",
                   caption=f"{REPORT}/agreement.rst", category="Scorer agreement",
                   labels={"model": "{model}", "scorers": "{a} vs {b}", "output": "figure"}),
    params:
        langs=LANGS,
        threshold=config["scoring"]["threshold"],
    log:
        f"{LOGS}/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.log",
    benchmark:
        f"{BENCHMARKS}/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/agreement.py"
