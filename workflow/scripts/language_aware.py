from xdetox.logs import job_log
from xdetox.steps.evaluate import language_aware

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    language_aware(p.label, p.langs, p.stages, snakemake.input.scores, snakemake.input.langid,
                   dict(snakemake.output.items()), snakemake.wildcards.scorer, p.threshold)
