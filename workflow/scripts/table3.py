from xdetox.logs import job_log
from xdetox.steps.capability import table3

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    table3(snakemake.input.capability, dict(snakemake.output.items()), p.labels, p.paper_refs,
           toxicity_paths=snakemake.input.toxicity, scorer=p.scorer, notes=p.notes)
