from xdetox.evaluation import figure10_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    figure10_step(p.label, p.langs, snakemake.input.base, snakemake.input.dpo, snakemake.output.png, p.evaluator)
