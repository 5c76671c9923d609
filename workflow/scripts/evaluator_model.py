from xdetox.evaluation import download_evaluator
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    hub = snakemake.params.hub
    download_evaluator(hub["id"], hub["revision"], snakemake.output[0])
