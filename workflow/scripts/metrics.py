from xdetox.logs import job_log
from xdetox.steps import metrics_step

with job_log(snakemake.log[0]):
    w = snakemake.wildcards
    metrics_step(snakemake.input[0], snakemake.output[0], snakemake.params.threshold, w.model, w.stage, w.lang, w.scorer,
                 bootstrap=snakemake.params.bootstrap)
