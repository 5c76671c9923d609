from xdetox.logs import job_log
from xdetox.steps.retrieval import retrieval_sentences

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    retrieval_sentences(p.dataset, list(p.langs), list(snakemake.input), list(snakemake.output), p.max_sentences)
