from xdetox.logs import job_log
from xdetox.steps.evaluate import table2_all

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    table2_all(list(snakemake.input), dict(snakemake.output.items()), snakemake.wildcards.scorer,
               snakemake.params.n_languages, snakemake.params.notes)
