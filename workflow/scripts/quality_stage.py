from xdetox.logs import job_log
from xdetox.steps.evaluate import quality_stage

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    quality_stage(p.kinds, dict(zip(p.langs, snakemake.input.generations)), snakemake.output[0], p.cache_dir,
                  p.namespace, snakemake.threads)
