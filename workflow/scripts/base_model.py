from xdetox.logs import job_log
from xdetox.models import prepare_base_model

with job_log(snakemake.log[0]):
    prepare_base_model(snakemake.params.model, snakemake.output[0])
