from xdetox.logs import job_log
from xdetox.steps.evaluate import quality

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p, w = snakemake.params, snakemake.wildcards
    quality(w.lang, snakemake.input.generations, p.kinds, dict(snakemake.output.items()), p.cache_dir, p.namespace,
            p.siblings, p.bootstrap, {"model": w.model, "stage": w.stage}, snakemake.threads)
