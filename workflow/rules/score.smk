# Toxicity scoring of continuations, one job per (scorer, model, stage, language); the learned scorer's training;
# every scorer's validation against human ratings and cross-language consistency; scorer agreement
# (xdetox.steps.score).


rule train_scorer:
    """The learned scorer's heads, cross-fitted by RTP-LX prompt Index, with their out-of-fold scores."""
    input:
        encoder=learned_encoder,
        rtplx=rtplx_annotations,
        jigsaw=jigsaw_for_scorer,
    output:
        directory(LEARNED_HEADS),
    params:
        settings=learned_training_settings,
        batch_tokens=config["scoring"]["learned"]["batch_tokens"],
        langs=list(PAPER_LANGUAGES),
    log:
        f"{LOGS}/scorers/learned.log",
    benchmark:
        f"{BENCHMARKS}/scorers/learned.tsv"
    conda:
        CORE_ENV
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
    script:
        f"{SCRIPTS}/train_scorer.py"


rule scorer_validation:
    """One scorer against RTP-LX's human ratings, per language: ROC-AUC, Spearman, weighted κ, flagged share."""
    input:
        rtplx=rtplx_annotations,
        artifacts=scorer_artifacts,
    output:
        csv=report(f"{VALID}/{{scorer}}/validation.csv", caption=f"{REPORT}/validation.rst",
                   category="Scorer validation", labels={"scorer": "{scorer}", "output": "table"}),
        md=f"{VALID}/{{scorer}}/validation.md",
        png=report(f"{VALID}/{{scorer}}/validation.png", caption=f"{REPORT}/validation.rst",
                   category="Scorer validation", labels={"scorer": "{scorer}", "output": "figure"}),
    params:
        settings=scorer_settings,
        cache=SCORE_CACHE,
        validation=VALIDATION,
        threshold=config["scoring"]["threshold"],
        langs=list(PAPER_LANGUAGES),
    log:
        f"{LOGS}/validation/{{scorer}}/validation.log",
    benchmark:
        f"{BENCHMARKS}/validation/{{scorer}}/validation.tsv"
    conda:
        CORE_ENV
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        perspective_api=perspective_slot,
    script:
        f"{SCRIPTS}/scorer_validation.py"


rule scorer_consistency:
    """One scorer on the 200 parallel prompts in every language: offset from English and rank correlation with it."""
    input:
        parallel=parallel200,
        artifacts=scorer_artifacts,
    output:
        csv=report(f"{VALID}/{{scorer}}/consistency.csv", caption=f"{REPORT}/consistency.rst",
                   category="Scorer validation", labels={"scorer": "{scorer}", "output": "consistency table"}),
        md=f"{VALID}/{{scorer}}/consistency.md",
        png=report(f"{VALID}/{{scorer}}/consistency.png", caption=f"{REPORT}/consistency.rst",
                   category="Scorer validation", labels={"scorer": "{scorer}", "output": "consistency figure"}),
    params:
        settings=scorer_settings,
        cache=SCORE_CACHE,
        n_boot=VALIDATION["n_boot"],
        seed=VALIDATION["seed"],
        max_prompts=VALIDATION["consistency_prompts"],
        langs=list(PAPER_LANGUAGES),
    log:
        f"{LOGS}/validation/{{scorer}}/consistency.log",
    benchmark:
        f"{BENCHMARKS}/validation/{{scorer}}/consistency.tsv"
    conda:
        CORE_ENV
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
        perspective_api=perspective_slot,
    script:
        f"{SCRIPTS}/scorer_consistency.py"


rule score_stage:
    """Every language of one (model, stage) into the score cache with one scorer load (scorers that are cached)."""
    input:
        generations=stage_generations,
        artifacts=scorer_artifacts,
    output:
        f"{RESULTS}/scores/{{scorer}}/{{model}}/{{stage}}/manifest.json",
    params:
        settings=scorer_settings,
        cache=SCORE_CACHE,
    log:
        f"{LOGS}/scores/{{scorer}}/{{model}}/{{stage}}/stage.log",
    benchmark:
        f"{BENCHMARKS}/scores/{{scorer}}/{{model}}/{{stage}}/stage.tsv"
    conda:
        CORE_ENV
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        perspective_api=perspective_slot,
    script:
        f"{SCRIPTS}/score_stage.py"


rule score:
    """One score record per generation, same order; scores are cached across runs by content
    ({resources_dir}/cache/scores.sqlite), filled by score_stage for cached scorers (a language whose entries are
    missing, e.g. after a forced rerun, is scored here)."""
    input:
        generations=f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
        artifacts=scorer_artifacts,
        stage=score_stage_manifest,
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
