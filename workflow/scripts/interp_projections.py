from xdetox.interp.projections import projections_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p, out = snakemake.params, snakemake.output
    projections_step(snakemake.input.model, snakemake.input.value_vectors, out.csv, out.table4, out.tables89,
                     p.interpret, label=p.model["label"], dtype=p.model["dtype"], family=p.model["family"],
                     threads=snakemake.threads)
