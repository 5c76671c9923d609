from xdetox.logs import job_log
from xdetox.steps.data import base_model

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    base_model(snakemake.params.model, snakemake.output[0])
