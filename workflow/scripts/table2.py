from xdetox.logs import job_log
from xdetox.report.tables import table2
from xdetox.steps import load_metrics

with job_log(snakemake.log[0]):
    stages = {"base": load_metrics(snakemake.input.base), "dpo": load_metrics(snakemake.input.dpo)}
    table2(snakemake.params.label, stages, snakemake.params.langs, snakemake.output.csv, snakemake.output.md,
           snakemake.output.per_lang, scorer=snakemake.wildcards.scorer)
