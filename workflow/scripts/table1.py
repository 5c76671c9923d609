from xdetox.evaluation import table1_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    paths = {k: list(i[k]) for k in ("base_gens", "base_scores", "dpo_gens", "dpo_scores")}
    table1_step(p.langs, paths, dict(snakemake.output.items()), p.label, snakemake.wildcards.scorer, p.table1["stage"],
                p.table1["n_prompts"], p.table1["prompt_ids"])
