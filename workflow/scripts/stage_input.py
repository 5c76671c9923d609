from xdetox.logs import job_log
from xdetox.steps.data import stage_input

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    stage_input(snakemake.config, snakemake.wildcards.name, snakemake.output[0], snakemake.params.sha256)
