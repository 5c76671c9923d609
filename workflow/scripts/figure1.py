from xdetox.logs import job_log
from xdetox.steps.evaluate import figure1

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    figure1(p.label, p.langs, dict(snakemake.input.items()), snakemake.output.png, snakemake.wildcards.scorer,
            p.degeneration)
