# Sampling continuations: one model load per (model, stage), one output file per (model, stage, language).
#
# generate_stage (one job per model and stage) samples every language missing from the content-addressed generation
# cache with ONE model load and writes a manifest; each `generate` job (one per language) then copies its language's
# cache entry to results/generations/{model}/{stage}/{lang}.jsonl. The stage job reruns when the model or the
# generation settings change (every language changes then). Its prompts are ancient(): when one language's prompts
# change, only that language's `generate` job reruns; it finds no cache entry and samples, under the stage's lock,
# every language of the stage missing from the cache (that one, or all of them when every prompts file was remade)
# with one model load. A forced or deleted language is copied from the cache again, or sampled alone if its entry
# is gone. After changing the generation code, `snakemake -R generate_stage` regenerates everything.
# Design and measurements: docs/generation.md.


rule generate_stage:
    """All languages of one (model, stage) into the generation cache with one model load (only missing entries)."""
    input:
        model=model_dir_input,
        prompts=[ancient(p) for p in expand(f"{RESOURCES}/data/prompts/{{lang}}.jsonl", lang=LANGS)],
    output:
        f"{RESULTS}/generations/{{model}}/{{stage}}/manifest.json",
    params:
        generation=config["generation"],
        langs=LANGS,
        cache_dir=generation_cache_dir(),
        namespace=lambda wc: f"{wc.model}/{wc.stage}",
    log:
        f"{LOGS}/generations/{{model}}/{{stage}}/stage.log",
    conda:
        generation_conda_env()
    threads: threads_for("generate")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=lambda wc: model_cfg(wc.model)["resources"].get("generate_runtime", 120),
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/generate_stage.py"


rule generate:
    """n_samples continuations per prompt, exactly, with one seed per (prompt, sample): the cache entry made by
    generate_stage, or sampled here with the stage's other missing languages (then with this job's one thread)."""
    input:
        model=model_dir_input,
        prompts=f"{RESOURCES}/data/prompts/{{lang}}.jsonl",
        stage=f"{RESULTS}/generations/{{model}}/{{stage}}/manifest.json",
    output:
        f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
    params:
        generation=config["generation"],
        cache_dir=generation_cache_dir(),
        namespace=lambda wc: f"{wc.model}/{wc.stage}",
        siblings={lang: f"{RESOURCES}/data/prompts/{lang}.jsonl" for lang in LANGS},
    log:
        f"{LOGS}/generations/{{model}}/{{stage}}/{{lang}}.log",
    conda:
        generation_conda_env()
    threads: 1
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=lambda wc: model_cfg(wc.model)["resources"].get("generate_runtime", 120),
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/generate.py"


rule langid_table:
    """Share of continuations in the prompt's language (and in English) per stage and language: a 'detox' that is
    really a switch to English shows up here."""
    input:
        lambda wc: expand(
            f"{RESULTS}/generations/{wc.model}/{{stage}}/{{lang}}.jsonl", stage=stages(wc.model), lang=LANGS
        ),
    output:
        csv=f"{RESULTS}/tables/langid/{{model}}/langid.csv",
        md=f"{RESULTS}/tables/langid/{{model}}/langid.md",
        png=f"{RESULTS}/figures/langid/{{model}}/langid.png",
    params:
        stages=lambda wc: stages(wc.model),
        langs=LANGS,
        label=lambda wc: model_cfg(wc.model).get("label", wc.model),
    log:
        f"{LOGS}/langid/{{model}}.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/langid_table.py"
