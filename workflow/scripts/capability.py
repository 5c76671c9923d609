from xdetox.logs import job_log
from xdetox.steps.capability import capability

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    w = snakemake.wildcards
    capability(snakemake.input.model, [(w.benchmark, w.lang, snakemake.output[0])], snakemake.params.settings,
               model=w.model, stage=w.stage, local_dir=snakemake.params.local_dir)
