from xdetox.interp.value_vectors import value_vectors_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    value_vectors_step(snakemake.input.model, snakemake.input.probe, snakemake.input.prompts, snakemake.output[0],
                       p.interpret, dtype=p.model["dtype"], family=p.model["family"], threads=snakemake.threads)
