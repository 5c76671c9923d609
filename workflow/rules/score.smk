# Toxicity scoring of continuations, one job per (scorer, model, stage, language).


rule score:
    """One score record per generation, same order; scores are cached across runs by content."""
    input:
        f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
    output:
        f"{RESULTS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.jsonl",
    params:
        scoring=config["scoring"],
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
