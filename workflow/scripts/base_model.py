from xdetox.logs import job_log
from xdetox.steps.data import base_model

with job_log(snakemake.log[0]):
    base_model(snakemake.params.model, snakemake.output[0])
