from xdetox.logs import job_log
from xdetox.scoring.score_file import score_generations_file

with job_log(snakemake.log[0]):
    score_generations_file(snakemake.input[0], snakemake.output[0], snakemake.wildcards.scorer, snakemake.params.scoring)
