# Bilingual sentence retrieval (paper §5, App. E) for each model with `retrieval: true` (xdetox.steps.retrieval):
# aligned sentences → per-layer representations of the base model (one .npz per (model, language)) → retrieval measures
# against English (+ per-layer figure) → %EMT change vs retrieval, Pearson/Spearman, Figure 4 (13–15 for other models).


rule retrieval_sentences:
    """Multi-way parallel sentences, checked for line alignment across all languages, one file per language."""
    input:
        [source_file(parallel_relpath(RETRIEVAL["dataset"], lang)) for lang in RETRIEVAL_LANGS],
    output:
        expand(f"{RETRIEVAL_SENTENCES}/{{lang}}.jsonl", lang=RETRIEVAL_LANGS),
    params:
        dataset=RETRIEVAL["dataset"],
        langs=RETRIEVAL_LANGS,
        max_sentences=RETRIEVAL["max_sentences"],
    log:
        f"{LOGS}/retrieval/sentences.log",
    benchmark:
        f"{BENCHMARKS}/retrieval/sentences.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/retrieval_sentences.py"


rule retrieval_representations:
    """Mean-pooled hidden states at every layer (embedding output included) of the base model: the model is loaded
    once, then one pass per language, one .npz per (model, language)."""
    input:
        model=base_model,
        sentences=expand(f"{RETRIEVAL_SENTENCES}/{{lang}}.jsonl", lang=RETRIEVAL_LANGS),
    output:
        expand(f"{RETR}/{{{{model}}}}/representations/{{lang}}.npz", lang=RETRIEVAL_LANGS),
    params:
        langs=RETRIEVAL_LANGS,
        encoding={k: RETRIEVAL[k] for k in ("batch_size", "max_length", "add_special_tokens")},
        dtype=model_dtype,
    log:
        f"{LOGS}/retrieval/{{model}}/representations.log",
    benchmark:
        f"{BENCHMARKS}/retrieval/{{model}}/representations.tsv"
    conda:
        CORE_ENV
    threads: 2
    resources:
        mem_mb=model_resources("mem_mb"),
        runtime=RETRIEVAL["runtime"],
        gpu=model_resources("gpus"),
    script:
        f"{SCRIPTS}/retrieval_representations.py"


rule retrieval_measures:
    """Top-1 retrieval accuracy (en→x, x→en) and mean paired cosine per layer and averaged, per language."""
    input:
        expand(f"{RETR}/{{{{model}}}}/representations/{{lang}}.npz", lang=RETRIEVAL_LANGS),
    output:
        csv=report(f"{RETR}/{{model}}/measures.csv", caption=f"{REPORT}/retrieval_measures.rst",
                   category="Bilingual retrieval", labels={"model": "{model}", "output": "measures per layer"}),
        json=f"{RETR}/{{model}}/measures.json",
        png=report(f"{RETR}/{{model}}/layers.png", caption=f"{REPORT}/retrieval_measures.rst",
                   category="Bilingual retrieval", labels={"model": "{model}", "output": "per-layer figure"}),
    params:
        langs=RETRIEVAL_LANGS,
        label=label,
        dataset=RETRIEVAL["dataset"],
    log:
        f"{LOGS}/retrieval/{{model}}/measures.log",
    benchmark:
        f"{BENCHMARKS}/retrieval/{{model}}/measures.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/retrieval_measures.py"


rule retrieval_figure4:
    """%EMT change after English DPO vs retrieval over the non-English languages: Pearson, Spearman, Figure 4."""
    input:
        measures=f"{RETR}/{{model}}/measures.json",
        base=metrics_of("base"),
        dpo=metrics_of("dpo"),
    output:
        png=report(f"{RETR}/{{model}}/{{scorer}}/figure4.png", caption=f"{REPORT}/figure4.rst",
                   category="Bilingual retrieval", subcategory="{scorer}",
                   labels={"model": "{model}", "output": "Figure 4"}),
        csv=report(f"{RETR}/{{model}}/{{scorer}}/predictor.csv", caption=f"{REPORT}/figure4.rst",
                   category="Bilingual retrieval", subcategory="{scorer}",
                   labels={"model": "{model}", "output": "Figure 4 values"}),
        json=f"{RETR}/{{model}}/{{scorer}}/predictor.json",
    params:
        langs=LANGS,
        measure=RETRIEVAL["measure"],
        label=label,
        dataset=RETRIEVAL["dataset"],
    log:
        f"{LOGS}/retrieval/{{model}}/{{scorer}}/figure4.log",
    benchmark:
        f"{BENCHMARKS}/retrieval/{{model}}/{{scorer}}/figure4.tsv"
    conda:
        CORE_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        f"{SCRIPTS}/retrieval_figure4.py"
