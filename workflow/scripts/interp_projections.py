from xdetox.logs import job_log
from xdetox.steps.interpret import interp_projections

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    interp_projections(i.model, i.value_vectors, o.csv, o.table4, o.tables89, p.interpret, p.model, snakemake.threads)
