# DPO on English preference pairs, one checkpoint per (model, DPO stage) (xdetox.steps.train).


rule dpo:
    """TRL DPO with the paper's hyperparameters; LoRA is merged so the output is a plain checkpoint."""
    input:
        model=base_model,
        train=f"{RESOURCES}/data/pairs/train.jsonl",
        val=f"{RESOURCES}/data/pairs/val.jsonl",
    output:
        model=directory(f"{RESULTS}/dpo/{{model}}/{{stage}}/model"),
        curve_csv=report(f"{RESULTS}/dpo/{{model}}/{{stage}}/training_curve.csv",
                         caption=f"{REPORT}/training_curve.rst", category="DPO training",
                         labels={"model": "{model}", "stage": "{stage}", "output": "values"}),
        curve_png=report(f"{RESULTS}/dpo/{{model}}/{{stage}}/training_curve.png",
                         caption=f"{REPORT}/training_curve.rst", category="DPO training",
                         labels={"model": "{model}", "stage": "{stage}", "output": "figure"}),
        summary=f"{RESULTS}/dpo/{{model}}/{{stage}}/summary.json",
    params:
        hparams=dpo_hparams,
        family=model_family,
        dtype=model_dtype,
        work_dir=dpo_work_dir,
        title=dpo_title,
    log:
        f"{LOGS}/dpo/{{model}}/{{stage}}.log",
    benchmark:
        f"{BENCHMARKS}/dpo/{{model}}/{{stage}}.tsv"
    conda:
        dpo_conda_env
    threads: threads_for("train")
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=model_resources("train_runtime"),
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/dpo.py"
