from xdetox.logs import job_log
from xdetox.steps.train import dpo

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    dpo(i.model, i.train, i.val, p.hparams, o.model, o.curve_csv, o.curve_png, o.summary, p.work_dir, p.family, p.dtype,
        snakemake.threads, p.title)
