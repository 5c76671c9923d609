# xdetox — "Preference Tuning For Toxicity Mitigation Generalizes Across Languages" as one Snakemake DAG.
#   snakemake --cores 2                      the embedded default (config.yaml)
#   snakemake --configfile configs/paper.yaml --profile profiles/workstation     (or --profile profiles/slurm)
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the embedded demo: it applies only when no --configfile is given, so a preset (configs/*.yaml) is the
# whole config and never gains the demo's model or settings. Spawned jobs (Slurm) get the same --configfiles, so they
# see the same config. To layer a file on the demo, pass both: --configfile config.yaml mine.yaml.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/retrieval.smk"
include: "workflow/rules/capability.smk"


onstart:
    # the probe request of remote scorers: when a run starts, never in a dry run (config key scoring.preflight)
    if PREFLIGHT == "full":
        scoring_preflight(probe=True)


rule all:
    input:
        all_targets(),
    default_target: True
