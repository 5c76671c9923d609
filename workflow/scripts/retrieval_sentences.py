from xdetox.logs import job_log
from xdetox.retrieval.steps import sentences_step

with job_log(snakemake.log[0]):
    p = snakemake.params
    sentences_step(p.dataset, list(p.langs), list(snakemake.input), list(snakemake.output), p.max_sentences)
