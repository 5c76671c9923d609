from xdetox.logs import job_log
from xdetox.steps.interpret import interp_figure3

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    interp_figure3(i.base, i.dpo, i.value_vectors, dict(zip(p.langs, i.prompts)), o.csv, o.neurons, o.png,
                   p.interpret, p.model, snakemake.threads)
