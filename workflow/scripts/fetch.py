from xdetox.logs import job_log
from xdetox.steps.data import fetch

with job_log(snakemake.log[0]):
    fetch(snakemake.wildcards.relpath, snakemake.output[0])
