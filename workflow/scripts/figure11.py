from xdetox.evaluation import figure11_step
from xdetox.logs import job_log


def stage_files(inputs, prefix):
    return {kind: list(inputs[f"{prefix}_{kind}"]) for kind in ("metrics", "fluency") if f"{prefix}_{kind}" in inputs.keys()}


with job_log(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    runs = {lr: {"stage": stage, **stage_files(i, f"lr{n}")} for n, (lr, stage) in enumerate(p.rates)}
    figure11_step(p.label, stage_files(i, "base"), runs, dict(snakemake.output.items()), snakemake.wildcards.scorer,
                  p.evaluator)
