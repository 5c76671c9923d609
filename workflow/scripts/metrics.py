from xdetox.logs import job_log
from xdetox.steps.evaluate import metrics

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    w = snakemake.wildcards
    metrics(snakemake.input[0], snakemake.output[0], snakemake.params.threshold, snakemake.params.bootstrap,
            {"model": w.model, "stage": w.stage, "lang": w.lang, "scorer": w.scorer})
