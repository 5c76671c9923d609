from xdetox.logs import job_log
from xdetox.steps.retrieval import retrieval_figure4

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, o, p, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
    retrieval_figure4(i.measures, dict(zip(p.langs, i.base)), dict(zip(p.langs, i.dpo)), o.csv, o.json, o.png,
                      p.measure, f"{p.label}: %EMT change vs bilingual retrieval ({p.dataset}; scorer {w.scorer})",
                      extra={"model": w.model, "scorer": w.scorer, "dataset": p.dataset})
