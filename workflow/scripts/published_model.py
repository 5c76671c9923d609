from xdetox.logs import job_log
from xdetox.steps.data import published_model

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    published_model(snakemake.params.source, snakemake.input.base, snakemake.output[0])
