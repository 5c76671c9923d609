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


# a copy of a small file: on a cluster it runs on the head node, next to the data, instead of waiting in the queue
localrules:
    stage_input,
    stage_input_folder,


rule stage_input:
    """A file from outside the workflow (data folder, data.prompts.path, data.pairs.path, interpret.probe.path),
    copied under resources/inputs/; its source's SHA-256 is its only parameter and it has no input, so moving or copying
    the source reruns nothing and changed bytes rerun exactly what reads it (xdetox.data.staging)."""
    output:
        f"{STAGED}/{{name}}",
    params:
        sha256=staged_digest,
    log:
        f"{LOGS}/inputs/{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/inputs/{{name}}.tsv"
    wildcard_constraints:
        name=STAGED_NAME,
    conda:
        CORE_ENV
    resources:
        mem_mb=500,
        runtime=10,
    script:
        f"{SCRIPTS}/stage_input.py"


rule stage_input_folder:
    """A folder from outside the workflow (data.pairs.path as a folder of *.jsonl), staged like stage_input."""
    output:
        directory(f"{STAGED}/folders/{{name}}"),
    params:
        sha256=staged_digest,
    log:
        f"{LOGS}/inputs/folders/{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/inputs/folders/{{name}}.tsv"
    wildcard_constraints:
        name=STAGED_NAME,
    conda:
        CORE_ENV
    resources:
        mem_mb=500,
        runtime=10,
    script:
        f"{SCRIPTS}/stage_input_folder.py"


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
        pairs=pairs_settings(),
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
