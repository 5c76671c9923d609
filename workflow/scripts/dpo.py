from xdetox.logs import job_log
from xdetox.train.dpo import train_dpo

with job_log(snakemake.log[0]):
    p = snakemake.params
    train_dpo(
        snakemake.input.model, snakemake.input.train, snakemake.input.val, p.hparams,
        out_dir=snakemake.output.model, curve_csv=snakemake.output.curve_csv, curve_png=snakemake.output.curve_png,
        summary_json=snakemake.output.summary, work_dir=p.work_dir, family=p.family, dtype=p.dtype,
        threads=snakemake.threads, title=f"DPO {snakemake.wildcards.model} ({snakemake.wildcards.stage})",
    )
