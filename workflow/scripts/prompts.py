from xdetox.logs import job_log
from xdetox.steps import prompts_step

with job_log(snakemake.log[0]):
    prompts_step(snakemake.input[0], snakemake.wildcards.lang, snakemake.output[0], **snakemake.params.selection)
