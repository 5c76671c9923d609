# Inputs: RTP-LX prompts per language, English preference pairs, base checkpoints.


rule fetch:
    """Download one input file from its pinned, commit-addressed URL and check its SHA-256 (src/xdetox/data/sources.json).

    Not used when a local data folder is given (data.local_dir or XDETOX_DATA_DIR): inputs are then read from it.
    """
    output:
        f"{RESOURCES}/downloads/{{relpath}}",
    params:
        relpath=lambda wc: wc.relpath,
    log:
        f"{LOGS}/downloads/{{relpath}}.log",
    conda:
        "../../envs/core.yaml"
    retries: 3
    resources:
        mem_mb=500,
        runtime=10,
    script:
        f"{SCRIPTS}/fetch.py"


rule prompts:
    """RTP-LX prompts of one language, normalised to {id, lang, text} (a deterministic subset if configured)."""
    input:
        lambda wc: prompt_source(wc.lang),
    output:
        f"{RESOURCES}/data/prompts/{{lang}}.jsonl",
    params:
        # only this language's slice of the config, so changing another language reruns nothing here
        selection=lambda wc: prompt_selection(wc.lang),
    log:
        f"{LOGS}/data/prompts/{{lang}}.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/prompts.py"


rule pairs:
    """English preference pairs {id, prompt, chosen, rejected}, filtered and split into train and validation."""
    input:
        pairs_source(),
    output:
        train=f"{RESOURCES}/data/pairs/train.jsonl",
        val=f"{RESOURCES}/data/pairs/val.jsonl",
    params:
        pairs=config["data"]["pairs"],
    log:
        f"{LOGS}/data/pairs.log",
    conda:
        "../../envs/core.yaml"
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
        model=lambda wc: model_cfg(wc.model),
    log:
        f"{LOGS}/models/{{model}}/base.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        f"{SCRIPTS}/base_model.py"
