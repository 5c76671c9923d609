from xdetox.logs import job_log
from xdetox.retrieval.steps import predictor_step

with job_log(snakemake.log[0]):
    p, w = snakemake.params, snakemake.wildcards
    predictor_step(snakemake.input.measures, dict(zip(p.langs, snakemake.input.base)), dict(zip(p.langs, snakemake.input.dpo)),
                   snakemake.output.csv, snakemake.output.json, snakemake.output.png, p.measure,
                   f"{p.label}: %EMT change vs bilingual retrieval ({p.dataset}; scorer {w.scorer})",
                   extra={"model": w.model, "scorer": w.scorer, "dataset": p.dataset})
