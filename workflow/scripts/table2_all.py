from xdetox.logs import job_log
from xdetox.steps.evaluate import table2_all

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    table2_all(list(snakemake.input.tables), dict(snakemake.output.items()), snakemake.wildcards.scorer,
               p.n_languages, p.notes, dict(zip(p.validated, snakemake.input.validation)))
