from xdetox.logs import job_log
from xdetox.steps.score import scorer_validation

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    o, p = snakemake.output, snakemake.params
    scorer_validation(dict(zip(p.langs, snakemake.input.rtplx)), o.csv, o.md, o.png, snakemake.wildcards.scorer,
                      p.settings, p.cache, p.validation, p.threshold)
