from xdetox.logs import job_log
from xdetox.steps.retrieval import retrieval_representations

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    retrieval_representations(snakemake.input.model, dict(zip(p.langs, snakemake.input.sentences)),
                              dict(zip(p.langs, snakemake.output)), p.encoding, p.dtype, snakemake.threads,
                              meta={"model": snakemake.wildcards.model})
