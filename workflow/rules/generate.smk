# Sampling continuations, one job per (model, stage, language).


rule generate:
    """n_samples continuations per prompt, exactly, with one seed per (prompt, sample)."""
    input:
        model=model_dir_input,
        prompts=f"{RESOURCES}/data/prompts/{{lang}}.jsonl",
    output:
        f"{RESULTS}/generations/{{model}}/{{stage}}/{{lang}}.jsonl",
    params:
        generation=config["generation"],
    log:
        f"{LOGS}/generations/{{model}}/{{stage}}/{{lang}}.log",
    conda:
        "../../envs/core.yaml"
    threads: threads_for("generate")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=lambda wc: model_cfg(wc.model)["resources"].get("generate_runtime", 120),
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/generate.py"
