from xdetox.evaluation import seeds_step
from xdetox.logs import job_log


def stage_files(inputs, prefix):
    return {kind: list(inputs[f"{prefix}_{kind}"]) for kind in ("metrics", "fluency", "diversity")
            if f"{prefix}_{kind}" in inputs.keys()}


with job_log(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    seeds_step(p.label, p.langs, stage_files(i, "base"), {s: stage_files(i, f"seed{s}") for s in p.seeds},
               dict(snakemake.output.items()), snakemake.wildcards.scorer)
