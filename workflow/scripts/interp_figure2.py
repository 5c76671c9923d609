from xdetox.interp.intervention import figure2_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    p, out = snakemake.params, snakemake.output
    figure2_step(snakemake.input.model, snakemake.input.value_vectors, dict(zip(p.langs, snakemake.input.prompts)),
                 out.csv, out.png, out.generations, p.interpret, snakemake.wildcards.scorer, p.scoring,
                 label=p.model["label"], dtype=p.model["dtype"], family=p.model["family"], threads=snakemake.threads)
