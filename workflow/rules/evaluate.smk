# Metrics per language, then tables and figures per model.


rule metrics:
    """EMT, toxicity probability and average toxicity with bootstrap confidence intervals."""
    input:
        f"{RESULTS}/scores/{{scorer}}/{{model}}/{{stage}}/{{lang}}.jsonl",
    output:
        f"{RESULTS}/metrics/{{scorer}}/{{model}}/{{stage}}/{{lang}}.json",
    params:
        threshold=config["scoring"]["threshold"],
    log:
        f"{LOGS}/metrics/{{scorer}}/{{model}}/{{stage}}/{{lang}}.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/metrics.py"


rule table2:
    """Table 2's toxicity columns for one model: 17-language averages before and after DPO (CSV + Markdown)."""
    input:
        base=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/base/{{lang}}.json", lang=LANGS),
        dpo=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/dpo/{{lang}}.json", lang=LANGS),
    output:
        csv=f"{RESULTS}/tables/{{scorer}}/{{model}}/table2.csv",
        md=f"{RESULTS}/tables/{{scorer}}/{{model}}/table2.md",
        per_lang=f"{RESULTS}/tables/{{scorer}}/{{model}}/per_language.csv",
    params:
        langs=LANGS,
        label=lambda wc: model_cfg(wc.model).get("label", wc.model),
    log:
        f"{LOGS}/tables/{{scorer}}/{{model}}/table2.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/table2.py"


rule figure1:
    """Figure 1 (and 5–9 for other models): per-language toxicity probability and EMT, pre vs post DPO."""
    input:
        base=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/base/{{lang}}.json", lang=LANGS),
        dpo=expand(f"{RESULTS}/metrics/{{{{scorer}}}}/{{{{model}}}}/dpo/{{lang}}.json", lang=LANGS),
    output:
        png=f"{RESULTS}/figures/{{scorer}}/{{model}}/figure1.png",
    params:
        langs=LANGS,
        label=lambda wc: model_cfg(wc.model).get("label", wc.model),
        scorer=lambda wc: wc.scorer,
    log:
        f"{LOGS}/figures/{{scorer}}/{{model}}/figure1.log",
    conda:
        "../../envs/core.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/figure1.py"
