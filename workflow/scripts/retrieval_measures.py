from xdetox.logs import job_log
from xdetox.steps.retrieval import retrieval_measures

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p, o = snakemake.params, snakemake.output
    retrieval_measures(dict(zip(p.langs, snakemake.input)), o.csv, o.json, o.png,
                       f"{p.label}: bilingual retrieval by layer ({p.dataset})",
                       extra={"model": snakemake.wildcards.model, "dataset": p.dataset})
