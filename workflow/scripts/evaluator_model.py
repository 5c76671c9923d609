from xdetox.logs import job_log
from xdetox.steps.evaluate import evaluator_model

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    hub = snakemake.params.hub
    evaluator_model(hub["id"], hub["revision"], snakemake.output[0])
