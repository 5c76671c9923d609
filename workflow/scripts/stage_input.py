from xdetox.data.staging import source_of, stage
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    stage(source_of(snakemake.config, snakemake.wildcards.name), snakemake.output[0], snakemake.params.sha256)
