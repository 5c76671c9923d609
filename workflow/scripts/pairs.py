from xdetox.logs import job_log
from xdetox.steps.data import pairs

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    pairs(snakemake.input[0], snakemake.output.train, snakemake.output.val, snakemake.params.pairs)
