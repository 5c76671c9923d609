from xdetox.logs import job_log
from xdetox.steps.score import train_scorer

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    i = snakemake.input
    train_scorer(i.encoder, dict(zip(snakemake.params.langs, i.rtplx)), snakemake.output[0],
                 snakemake.params.settings, jigsaw=i.jigsaw[0] if i.jigsaw else None,
                 batch_tokens=snakemake.params.batch_tokens,
                 threads=snakemake.config["scoring"]["learned"]["threads"] or snakemake.threads)
