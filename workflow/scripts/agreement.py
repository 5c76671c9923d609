from xdetox.logs import job_log
from xdetox.steps.score import agreement

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    o, w = snakemake.output, snakemake.wildcards
    agreement(snakemake.input.a, snakemake.input.b, snakemake.params.langs, o.csv, o.md, o.png, w.a, w.b,
              snakemake.params.threshold)
