from xdetox.logs import job_log
from xdetox.retrieval.steps import measures_step

with job_log(snakemake.log[0]):
    p = snakemake.params
    measures_step(dict(zip(p.langs, snakemake.input)), snakemake.output.csv, snakemake.output.json, snakemake.output.png,
                  f"{p.label}: bilingual retrieval by layer ({p.dataset})",
                  extra={"model": snakemake.wildcards.model, "dataset": p.dataset})
