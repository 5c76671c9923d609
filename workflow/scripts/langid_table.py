from xdetox.logs import job_log
from xdetox.steps import langid_table_step

with job_log(snakemake.log[0]):
    p = snakemake.params
    files = dict(zip([(stage, lang) for stage in p.stages for lang in p.langs], snakemake.input))
    langid_table_step(files, snakemake.output.csv, snakemake.output.md, snakemake.output.png,
                      snakemake.wildcards.model, p.label)
