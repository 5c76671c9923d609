from xdetox.interp.probe import probe_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p, out = snakemake.params, snakemake.output
    probe_step(snakemake.input.model, snakemake.input.data, out.probe, out.metrics, out.history, p.probe,
               dtype=p.model["dtype"], threads=snakemake.threads)
