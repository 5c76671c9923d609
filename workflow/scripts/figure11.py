from xdetox.logs import job_log
from xdetox.steps.evaluate import figure11

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    figure11(p.label, dict(snakemake.input.items()), p.rates, dict(snakemake.output.items()), snakemake.wildcards.scorer,
             p.evaluator)
