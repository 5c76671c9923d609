from xdetox.logs import job_log
from xdetox.steps.score import scorer_consistency

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    o, p = snakemake.output, snakemake.params
    scorer_consistency(dict(zip(p.langs, snakemake.input.parallel)), o.csv, o.md, o.png, snakemake.wildcards.scorer,
                       p.settings, p.cache, p.n_boot, p.seed, p.max_prompts)
