from xdetox.evaluation import quality_stage_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    quality_stage_step(p.kinds, dict(zip(p.langs, snakemake.input.generations)), snakemake.output[0], p.cache_dir,
                       p.namespace, threads=snakemake.threads)
