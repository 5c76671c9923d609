from xdetox.logs import job_log
from xdetox.steps.generate import langid

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    langid(snakemake.input[0], snakemake.output[0])
