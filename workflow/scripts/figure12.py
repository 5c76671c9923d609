from xdetox.logs import job_log
from xdetox.steps.evaluate import figure12

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    figure12(p.label, p.langs, p.series, dict(snakemake.output.items()), snakemake.wildcards.scorer)
