from xdetox.evaluation import table2_all_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    table2_all_step(list(snakemake.input), dict(snakemake.output.items()), snakemake.wildcards.scorer,
                    snakemake.params.n_languages, snakemake.params.notes)
