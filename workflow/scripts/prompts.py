from xdetox.logs import job_log
from xdetox.steps.data import prompts

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    prompts(snakemake.input[0], snakemake.wildcards.lang, snakemake.output[0], **snakemake.params.selection)
