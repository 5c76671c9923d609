from xdetox.logs import job_log
from xdetox.steps.generate import langid_table

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p, o = snakemake.params, snakemake.output
    files = dict(zip([(stage, lang) for stage in p.stages for lang in p.langs], snakemake.input))
    langid_table(files, o.csv, o.md, o.png, snakemake.wildcards.model, p.label)
