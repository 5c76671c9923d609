# Toxicity scoring of continuations, one job per (scorer, model, stage, language).


rule score:
    """One score record per generation, same order; scores are cached across runs by content."""
    input:
        f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
    output:
        f"{RESULTS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.jsonl",
    params:
        scoring=lambda wc: scorer_config(wc.scorer),
    log:
        f"{LOGS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
        # the Perspective quota is per API key: jobs share it through this global resource (profiles set it to 1)
        perspective_api=lambda wc: 1 if wc.scorer == "perspective" else 0,
    script:
        f"{SCRIPTS}/score.py"


rule agreement:
    """Agreement of two scorers on the same generations: per-language Pearson, Spearman and ROC-AUC."""
    input:
        a=lambda wc: expand(f"{RESULTS}/scores/{wc.a}/{wc.model}/{wc.stage}/{{lang}}.jsonl", lang=LANGS),
        b=lambda wc: expand(f"{RESULTS}/scores/{wc.b}/{wc.model}/{wc.stage}/{{lang}}.jsonl", lang=LANGS),
    output:
        csv=f"{RESULTS}/tables/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.csv",
        md=f"{RESULTS}/tables/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.md",
        png=f"{RESULTS}/figures/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.png",
    params:
        langs=LANGS,
        threshold=config["scoring"]["threshold"],
    log:
        f"{LOGS}/agreement/{{model}}/{{stage}}/{{a}}_vs_{{b}}.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/agreement.py"
