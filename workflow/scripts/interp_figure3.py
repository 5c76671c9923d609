from xdetox.interp.activations import figure3_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p, out = snakemake.params, snakemake.output
    figure3_step(snakemake.input.base, snakemake.input.dpo, snakemake.input.value_vectors,
                 dict(zip(p.langs, snakemake.input.prompts)), out.csv, out.neurons, out.png, p.interpret,
                 label=p.model["label"], dtype=p.model["dtype"], family=p.model["family"], threads=snakemake.threads)
