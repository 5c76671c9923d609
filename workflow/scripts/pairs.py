from xdetox.logs import job_log
from xdetox.steps import pairs_step

with job_log(snakemake.log[0]):
    pairs_step(snakemake.input[0], snakemake.output.train, snakemake.output.val, snakemake.params.pairs)
