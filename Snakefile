# xdetox — "Preference Tuning For Toxicity Mitigation Generalizes Across Languages" as one Snakemake DAG.
#   snakemake --cores 2                      the embedded default (config.yaml)
#   snakemake --cores 8 --configfile configs/paper.yaml --profile profiles/default
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/retrieval.smk"


onstart:
    # the probe request of remote scorers: when a run starts, never in a dry run (config key scoring.preflight)
    if PREFLIGHT == "full":
        scoring_preflight(probe=True)


rule all:
    input:
        all_targets(),
    default_target: True
