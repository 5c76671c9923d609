from xdetox.logs import job_log
from xdetox.steps.interpret import interp_table5

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    interp_table5(i.model, i.value_vectors, o.csv, o.md, p.interpret, p.model, snakemake.threads)
