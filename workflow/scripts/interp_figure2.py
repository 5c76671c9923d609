from xdetox.logs import job_log
from xdetox.steps.interpret import interp_figure2

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    interp_figure2(i.model, i.value_vectors, dict(zip(p.langs, i.prompts)), o.csv, o.png, o.generations, p.interpret,
                   snakemake.wildcards.scorer, p.scorer_settings, p.score_cache, p.model, snakemake.threads)
