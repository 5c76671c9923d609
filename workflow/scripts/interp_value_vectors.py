from xdetox.logs import job_log
from xdetox.steps.interpret import interp_value_vectors

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, p = snakemake.input, snakemake.params
    interp_value_vectors(i.model, i.probe, i.prompts, snakemake.output[0], p.interpret, p.model, snakemake.threads)
