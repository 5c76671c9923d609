from xdetox.logs import job_log
from xdetox.steps import score_step

with job_log(snakemake.log[0]):
    score_step(snakemake.input[0], snakemake.output[0], snakemake.wildcards.scorer, snakemake.params.scoring)
