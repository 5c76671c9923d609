from xdetox.logs import job_log
from xdetox.steps import generate_step

with job_log(snakemake.log[0]):
    generate_step(snakemake.input.model, snakemake.input.prompts, snakemake.output[0],
                  snakemake.params.generation, threads=snakemake.threads)
