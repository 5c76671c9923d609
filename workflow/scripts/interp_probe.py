from xdetox.logs import job_log
from xdetox.steps.interpret import interp_probe

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    o, p = snakemake.output, snakemake.params
    interp_probe(snakemake.input.model, snakemake.input.data, o.probe, o.metrics, o.history, p.probe, p.model,
                 snakemake.threads)
