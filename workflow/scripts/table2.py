from xdetox.logs import job_log
from xdetox.steps.evaluate import table2

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    validation = {s: snakemake.input[f"validation_{s}"] for s in p.validated}
    table2(p.label, p.langs, dict(snakemake.input.items()), dict(snakemake.output.items()), snakemake.wildcards.scorer,
           p.threshold, p.degeneration, p.notes, validation)
