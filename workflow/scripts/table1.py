from xdetox.logs import job_log
from xdetox.steps.evaluate import table1

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, p = snakemake.input, snakemake.params
    paths = {k: list(i[k]) for k in ("base_gens", "base_scores", "dpo_gens", "dpo_scores")}
    table1(p.langs, paths, dict(snakemake.output.items()), p.label, snakemake.wildcards.scorer, p.stage, p.n_prompts,
           p.prompt_ids)
