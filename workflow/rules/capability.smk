# Table 3: multilingual capability (Okapi's ARC, HellaSwag, MMLU) before and after DPO through lm-evaluation-harness
# (xdetox.steps.capability; docs/capability.md). Off unless evaluation.capability.enabled is true or
# data.capability.local_dir is set.
#
# One job per (model, stage, benchmark, language): a 7B model's 25-shot MMLU in one language runs for hours, so each
# task is a job of its own that a cluster can place on any free GPU (the checkpoint load, about a minute, is small
# beside it). Data come from the hub, or from the local folder (then the task's files are inputs).


rule capability:
    """Accuracy (acc, acc_norm, standard errors) of one (model, stage) checkpoint on one benchmark and language."""
    input:
        unpack(capability_inputs),
    output:
        f"{RESULTS}/capability/{{model}}/{{stage}}/{{benchmark}}/{{lang}}.json",
    params:
        settings=capability_settings,
        local_dir=CAPABILITY_LOCAL,
    wildcard_constraints:
        stage="base|dpo",
        lang="|".join(map(re.escape, CAPABILITY_LANGUAGES)),
    log:
        f"{LOGS}/capability/{{model}}/{{stage}}/{{benchmark}}/{{lang}}.log",
    benchmark:
        f"{BENCHMARKS}/capability/{{model}}/{{stage}}/{{benchmark}}/{{lang}}.tsv"
    conda:
        CAPABILITY_ENV
    threads: 2
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=CAPABILITY["runtime"],
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/capability.py"


rule table3:
    """Table 3 (before / after / change, ± the harness's standard errors), its comparison with the paper, and the
    capability change per language beside the main scorer's EMT change."""
    input:
        capability=capability_files(CAPABILITY_MODELS),
        toxicity=table3_toxicity(),
    output:
        csv=report(f"{RESULTS}/tables/table3.csv", caption=f"{REPORT}/table3.rst", category="Table 3",
                   labels={"table": "Table 3"}),
        md=f"{RESULTS}/tables/table3.md",
        tex=f"{RESULTS}/tables/table3.tex",
        paper_csv=f"{RESULTS}/tables/table3_paper_comparison.csv",
        paper_md=f"{RESULTS}/tables/table3_paper_comparison.md",
        figure=report(f"{RESULTS}/figures/table3.png", caption=f"{REPORT}/table3_figure.rst", category="Table 3",
                      labels={"figure": "capability vs toxicity change"}),
    params:
        labels={m: label_of(config, m) for m in CAPABILITY_MODELS},
        paper_refs={m: model_cfg(m).get("paper_reference") for m in CAPABILITY_MODELS},
        scorer=MAIN_SCORER,
        notes=table3_notes(),
    log:
        f"{LOGS}/tables/table3.log",
    benchmark:
        f"{BENCHMARKS}/tables/table3.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/table3.py"
