from xdetox.logs import job_log
from xdetox.retrieval.steps import representations_step

with job_log(snakemake.log[0]):
    langs = snakemake.params.langs
    representations_step(snakemake.input.model, dict(zip(langs, snakemake.input.sentences)),
                         dict(zip(langs, snakemake.output)), snakemake.params.retrieval, snakemake.params.dtype,
                         snakemake.threads, meta={"model": snakemake.wildcards.model})
