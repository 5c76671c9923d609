from xdetox.interp.intervention import table5_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p, out = snakemake.params, snakemake.output
    table5_step(snakemake.input.model, snakemake.input.value_vectors, out.csv, out.md, p.interpret,
                label=p.model["label"], dtype=p.model["dtype"], family=p.model["family"], threads=snakemake.threads)
