from xdetox.logs import job_log
from xdetox.steps.evaluate import seeds

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    seeds(p.label, p.langs, dict(snakemake.input.items()), p.seeds, dict(snakemake.output.items()),
          snakemake.wildcards.scorer)
