from xdetox.evaluation import figure12_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    figure12_step(p.label, p.langs, p.series, dict(snakemake.output.items()), snakemake.wildcards.scorer)
