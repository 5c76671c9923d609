# Inputs: RTP-LX prompts per language, English preference pairs, base checkpoints.


rule prompts:
    """RTP-LX prompts of one language, normalised to {id, lang, text} (a deterministic subset if configured)."""
    output:
        f"{RESOURCES}/data/prompts/{{lang}}.jsonl",
    params:
        prompts=config["data"]["prompts"],
        local_dir=local_data(),
        download_dir=f"{RESOURCES}/downloads",
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
    output:
        train=f"{RESOURCES}/data/pairs/train.jsonl",
        val=f"{RESOURCES}/data/pairs/val.jsonl",
    params:
        pairs=config["data"]["pairs"],
        local_dir=local_data(),
        download_dir=f"{RESOURCES}/downloads",
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
