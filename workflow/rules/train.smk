# DPO on English preference pairs, one checkpoint per (model, DPO stage).


rule dpo:
    """TRL DPO with the paper's hyperparameters; LoRA is merged so the output is a plain checkpoint."""
    input:
        model=lambda wc: base_model_dir(wc.model),
        train=f"{RESOURCES}/data/pairs/train.jsonl",
        val=f"{RESOURCES}/data/pairs/val.jsonl",
    output:
        model=directory(f"{RESULTS}/dpo/{{model}}/{{stage}}/model"),
        curve_csv=f"{RESULTS}/dpo/{{model}}/{{stage}}/training_curve.csv",
        curve_png=f"{RESULTS}/dpo/{{model}}/{{stage}}/training_curve.png",
        summary=f"{RESULTS}/dpo/{{model}}/{{stage}}/summary.json",
    params:
        hparams=lambda wc: dpo_hparams(wc.model, wc.stage),
        family=lambda wc: model_cfg(wc.model).get("family"),
        dtype=lambda wc: model_cfg(wc.model)["dtype"],
        # trainer checkpoints live outside the directory output so an interrupted run can resume
        work_dir=lambda wc: f"{RESOURCES}/checkpoints/{wc.model}/{wc.stage}",
    log:
        f"{LOGS}/dpo/{{model}}/{{stage}}.log",
    conda:
        "../../envs/core.yaml"
    threads: threads_for("train")
    resources:
        mem_mb=lambda wc: model_cfg(wc.model)["resources"].get("mem_mb", 8000),
        runtime=lambda wc: model_cfg(wc.model)["resources"].get("train_runtime", 720),
        gpu=lambda wc: model_cfg(wc.model)["resources"].get("gpus", 0),
    script:
        f"{SCRIPTS}/dpo.py"
