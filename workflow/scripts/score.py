from xdetox.logs import job_log
from xdetox.steps.score import score

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    score(snakemake.input.generations, snakemake.output[0], snakemake.wildcards.scorer, snakemake.params.settings,
          snakemake.params.cache)
