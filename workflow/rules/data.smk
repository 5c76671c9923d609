# Inputs: downloads, RTP-LX prompts per language, English preference pairs, base checkpoints (xdetox.steps.data).


rule fetch:
    """Download one input file from its pinned, commit-addressed URL and check its SHA-256 (src/xdetox/data/sources.json).

    Not used when a local data folder is given (data.local_dir or XDETOX_DATA_DIR): inputs are then read from it.
    """
    output:
        f"{RESOURCES}/downloads/{{relpath}}",
    log:
        f"{LOGS}/downloads/{{relpath}}.log",
    benchmark:
        f"{BENCHMARKS}/downloads/{{relpath}}.tsv"
    conda:
        CORE_ENV
    retries: 3
    resources:
        mem_mb=500,
        runtime=10,
    script:
        f"{SCRIPTS}/fetch.py"


rule prompts:
    """RTP-LX prompts of one language, normalised to {id, lang, text} (a deterministic subset if configured)."""
    input:
        prompt_source,
    output:
        f"{RESOURCES}/data/prompts/{{lang}}.jsonl",
    params:
        selection=prompt_selection,
    log:
        f"{LOGS}/data/prompts/{{lang}}.log",
    benchmark:
        f"{BENCHMARKS}/data/prompts/{{lang}}.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/prompts.py"


rule pairs:
    """English preference pairs {id, prompt, chosen, rejected}, filtered and split into train and validation."""
    input:
        pairs_source,
    output:
        train=f"{RESOURCES}/data/pairs/train.jsonl",
        val=f"{RESOURCES}/data/pairs/val.jsonl",
    params:
        pairs=config["data"]["pairs"],
    log:
        f"{LOGS}/data/pairs.log",
    benchmark:
        f"{BENCHMARKS}/data/pairs.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/pairs.py"


rule base_model:
    """A plain transformers checkpoint of a hub or GGUF-package model (local-path models are used in place)."""
    output:
        directory(f"{RESOURCES}/models/{{model}}/base"),
    params:
        model=model_section,
    log:
        f"{LOGS}/models/{{model}}/base.log",
    benchmark:
        f"{BENCHMARKS}/models/{{model}}/base.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        f"{SCRIPTS}/base_model.py"


rule published_model:
    """A published DPO checkpoint (models.<m>.dpo_source) as the model's dpo stage: dense, or an adapter merged."""
    input:
        base=base_model,
    output:
        directory(f"{RESOURCES}/models/{{model}}/dpo-published"),
    params:
        source=dpo_source,
    log:
        f"{LOGS}/models/{{model}}/dpo-published.log",
    benchmark:
        f"{BENCHMARKS}/models/{{model}}/dpo-published.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=120,
    script:
        f"{SCRIPTS}/published_model.py"
