# Sampling continuations: one model load per (model, stage), one output file per (model, stage, language), and the
# language of every continuation (xdetox.steps.generate).
#
# generate_stage (one job per model and stage) samples every language missing from the content cache
# ({resources_dir}/cache/generation) with ONE model load and writes a manifest; each `generate` job (one per language)
# then copies its language's cache entry to results/generations/{model}/{stage}/{lang}.jsonl. The stage job reruns
# when the model or the generation settings change (every language changes then). Its prompts are ancient(): when one
# language's prompts change, only that language's `generate` job reruns; it finds no cache entry and samples, under
# the stage's lock, every language of the stage missing from the cache (that one, or all of them when every prompts
# file was remade) with one model load. A forced or deleted language is copied from the cache again, or sampled alone
# if its entry is gone. After changing the generation code, `snakemake -R generate_stage` regenerates everything
# (the cache key covers the generation code, so nothing stale is copied). Design and measurements: docs/generation.md.


rule generate_stage:
    """All languages of one (model, stage) into the generation cache with one model load (only missing entries)."""
    input:
        model=stage_model,
        prompts=[ancient(p) for p in prompt_files(LANGS)],
    output:
        f"{RESULTS}/generations/{{model}}/{{stage}}/manifest.json",
    params:
        generation=config["generation"],
        langs=LANGS,
        cache_dir=GENERATION_CACHE,
        namespace=namespace,
    log:
        f"{LOGS}/generations/{{model}}/{{stage}}/stage.log",
    benchmark:
        f"{BENCHMARKS}/generations/{{model}}/{{stage}}/stage.tsv"
    conda:
        generation_conda_env()
    threads: threads_for("generate")
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=model_resources("generate_runtime"),
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/generate_stage.py"


rule generate:
    """n_samples continuations per prompt, exactly, with one seed per (prompt, sample): the cache entry made by
    generate_stage, or sampled here with the stage's other missing languages (then with this job's one thread)."""
    input:
        model=stage_model,
        prompts=f"{RESOURCES}/data/prompts/{{lang}}.jsonl",
        stage=f"{RESULTS}/generations/{{model}}/{{stage}}/manifest.json",
    output:
        f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
    params:
        generation=config["generation"],
        cache_dir=GENERATION_CACHE,
        namespace=namespace,
        siblings=dict(zip(LANGS, prompt_files(LANGS))),
    log:
        f"{LOGS}/generations/{{model}}/{{stage}}/{{lang}}.log",
    benchmark:
        f"{BENCHMARKS}/generations/{{model}}/{{stage}}/{{lang}}.tsv"
    conda:
        generation_conda_env()
    threads: 1
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=model_resources("generate_runtime"),
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/generate.py"


rule langid:
    """The language of every continuation (py3langid, offline): {prompt_id, sample, detected_lang, lang_confidence},
    beside the generation file, so editing language identification never resamples."""
    input:
        f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
    output:
        f"{RESULTS}/langid/{{model}}/{{stage}}/{{lang}}.jsonl",
    log:
        f"{LOGS}/langid/{{model}}/{{stage}}/{{lang}}.log",
    benchmark:
        f"{BENCHMARKS}/langid/{{model}}/{{stage}}/{{lang}}.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/langid.py"


rule langid_table:
    """Share of continuations in the prompt's language (and in English) per stage and language: a 'detox' that is
    really a switch to English shows up here."""
    input:
        langid_inputs,
    output:
        csv=report(f"{RESULTS}/tables/langid/{{model}}/langid.csv", caption=f"{REPORT}/langid.rst",
                   category="Language of continuations", labels={"model": "{model}", "output": "table"}),
        md=f"{RESULTS}/tables/langid/{{model}}/langid.md",
        png=report(f"{RESULTS}/figures/langid/{{model}}/langid.png", caption=f"{REPORT}/langid.rst",
                   category="Language of continuations", labels={"model": "{model}", "output": "figure"}),
    params:
        stages=model_stages,
        langs=LANGS,
        label=label,
    log:
        f"{LOGS}/langid/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/langid/{{model}}.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/langid_table.py"
