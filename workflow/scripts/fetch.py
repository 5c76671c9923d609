from xdetox.logs import job_log
from xdetox.steps.data import fetch

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    fetch(snakemake.wildcards.relpath, snakemake.output[0])
