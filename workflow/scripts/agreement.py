from xdetox.logs import job_log
from xdetox.steps import agreement_step

with job_log(snakemake.log[0]):
    agreement_step(snakemake.input.a, snakemake.input.b, snakemake.params.langs, snakemake.output.csv,
                   snakemake.output.md, snakemake.output.png, snakemake.wildcards.a, snakemake.wildcards.b,
                   snakemake.params.threshold)
