from xdetox.data.fetch import download
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    download(snakemake.params.relpath, snakemake.output[0])
