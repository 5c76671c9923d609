"""Steps of workflow/rules/evaluate.smk: per-language metrics, then Tables 1–2, Figures 1, 5–12, the DPO-seed summary
and the comparison with the paper's numbers.

Fluency and diversity follow generation's pattern (xdetox.steps.generate): `quality_stage` (one job per model and
stage) computes every language missing from the content cache with one evaluator load; `quality` (one job per
language) writes its language's outputs from the cache entry, or computes it with the stage's other missing languages
on a miss. An entry's key covers the generation file's bytes, the evaluator checkpoint, the settings that change
values and the metric's code, so a hit is what a fresh computation would give.

A module serves several rules, and every job imports it: libraries a light rule does not need (torch,
transformers, matplotlib: 5-15 s per job) are imported inside the steps that use them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import XdetoxError
from ..cache import ContentCache, code_fingerprint, content_key, file_sha256, materialize, model_fingerprint
from ..data.checkpoints import download_hub
from ..io import read_json_each, read_jsonl, write_json
from ..metrics.aggregate import mean_defined, select_table1, stage_row, table2_rows
from ..metrics.language_aware import decomposition_rows, degeneration_flags, in_language_share, stage_summary
from ..metrics.language_aware import language_aware as language_aware_record
from ..metrics.toxicity import toxicity_metrics
from ..report import tables

log = logging.getLogger("xdetox.evaluation")


def evaluator_model(hub_id: str, revision: str | None, out: str) -> Path:
    """A hub evaluator's checkpoint (e.g. google/mt5-xl); offline, point evaluation.fluency.evaluator at a folder."""
    return download_hub(hub_id, revision, out, what="evaluator")


def metrics(scores_path: str, out: str, threshold: float, bootstrap: Mapping[str, Any], meta: Mapping[str, str]) -> dict:
    """EMT, ToxProb, AvgTox of one (scorer, model, stage, language) with bootstrap intervals over prompts.

    `bootstrap`: the config's evaluation.bootstrap {n, ci, seed}; `meta`: model, stage, lang, scorer.
    """
    result = toxicity_metrics(read_jsonl(scores_path, ("prompt_id", "toxicity")), threshold=threshold,
                              n_boot=bootstrap["n"], ci=bootstrap["ci"], seed=bootstrap["seed"])
    result.update(meta)
    write_json(out, result)
    return result


# ------------------------------------------------------------------------------------------- fluency and diversity

QUALITY_CACHE_VERSION = 1
#: fluency settings that cannot change values beyond float noise (batching) or only say where the job runs (the
#: evaluator itself is in the key through its checkpoint's fingerprint)
FLUENCY_NOT_IN_KEY = ("enabled", "batch_size", "mem_mb", "runtime", "gpus", "revision", "evaluator")
_METRICS = Path(__file__).resolve().parents[1] / "metrics"
#: the code an entry is a function of: the metric and the model-loading policy
QUALITY_SOURCES = {kind: [_METRICS / f"{kind}.py", _METRICS.parent / "models.py"] for kind in ("fluency", "diversity")}


class _Quality:
    """The cache's key and compute functions for one metric kind of one evaluator (loaded on the first miss only)."""

    def __init__(self, kind: str, evaluator_dir: str, settings: dict, threads: int | None):
        self.kind, self.evaluator_dir, self.settings, self.threads = kind, evaluator_dir, settings, threads
        self.evaluator_fp = model_fingerprint(evaluator_dir)
        self.code = code_fingerprint(QUALITY_SOURCES[kind], ("torch", "transformers", "tokenizers"))

    def key(self, lang: str, generations_path: str) -> tuple[str, dict]:
        settings = {k: v for k, v in self.settings.items() if k not in FLUENCY_NOT_IN_KEY} \
            if self.kind == "fluency" else {}
        ingredients = {"version": QUALITY_CACHE_VERSION, "kind": self.kind, "generations": file_sha256(generations_path),
                       "evaluator": self.evaluator_fp, "settings": settings, "code": self.code}
        return content_key(ingredients), ingredients

    def compute(self, generation_files: Mapping[str, str]) -> dict[str, list[dict]]:
        """Per-sample perplexities (fluency) or per-prompt Dist-n (diversity) for each language, one evaluator load."""
        from ..metrics import diversity, fluency
        from ..models import load_tokenizer

        if self.kind == "fluency":
            s = self.settings
            model, tokenizer = fluency.load_evaluator(self.evaluator_dir, s["mode"], s["dtype"], threads=self.threads)
            out = {}
            for lang, path in generation_files.items():
                records = fluency.select_samples(read_jsonl(path, ("prompt_id", "sample", "prompt", "text")),
                                                 s["max_samples_per_prompt"])
                out[lang] = fluency.perplexities(model, tokenizer, records, s["mode"], s["batch_size"], s["max_ppl"])
                kept = sum(r["ppl"] is not None for r in out[lang])
                log.info("fluency %s: %d of %d continuations kept", lang, kept, len(out[lang]))
            return out
        decoder = diversity.PieceDecoder(load_tokenizer(self.evaluator_dir))
        return {lang: diversity.per_prompt_records(read_jsonl(path, ("prompt_id", "text")), decoder)
                for lang, path in generation_files.items()}


def _quality_cache(cache_dir: str, namespace: str, kind: str) -> ContentCache:
    return ContentCache(cache_dir, f"{namespace}/{kind}")


def quality_stage(kinds: Mapping[str, dict], generation_files: Mapping[str, str], manifest_out: str, cache_dir: str,
                  namespace: str, threads: int | None = None) -> dict:
    """Every language of one (model, stage) into the cache, one evaluator load per kind; writes a manifest.

    `kinds`: kind (fluency, diversity) -> {evaluator_dir, settings, name}.
    """
    start = time.perf_counter()
    manifest = {"cache": cache_dir, "namespace": namespace, "kinds": {}}
    for kind, spec in kinds.items():
        quality = _Quality(kind, spec["evaluator_dir"], spec["settings"], threads)
        entries = _quality_cache(cache_dir, namespace, kind).ensure(dict(generation_files), quality.key,
                                                                     quality.compute)
        manifest["kinds"][kind] = {lang: {"key": e.key, "computed": e.computed} for lang, e in entries.items()}
    manifest["seconds"] = round(time.perf_counter() - start, 2)
    write_json(manifest_out, manifest)
    return manifest


def quality(lang: str, generations: str, kinds: Mapping[str, dict], outputs: Mapping[str, str], cache_dir: str,
            namespace: str, siblings: Mapping[str, str], bootstrap: Mapping[str, Any], meta: Mapping[str, str],
            threads: int | None = None) -> dict:
    """One language's fluency values + summary and diversity summary, from the cache (computed here on a miss,
    together with every sibling language missing from the cache)."""
    from ..metrics import diversity, fluency

    companions = {other: path for other, path in siblings.items() if other != lang and Path(path).is_file()}
    summaries = {}
    for kind, spec in kinds.items():
        quality = _Quality(kind, spec["evaluator_dir"], spec["settings"], threads)
        entry = _quality_cache(cache_dir, namespace, kind).get(lang, generations, quality.key, quality.compute,
                                                               companions)
        records = read_jsonl(entry.path)
        if kind == "fluency":
            materialize(entry.path, outputs["fluency_values"])
            summary = fluency.summarize(records, bootstrap["n"], bootstrap["ci"], bootstrap["seed"])
            s = spec["settings"]
            summary.update({"mode": s["mode"], "max_samples_per_prompt": s["max_samples_per_prompt"],
                            "max_ppl": s["max_ppl"], "dtype": s["dtype"]})
        else:
            summary = diversity.summarize(records, bootstrap["n"], bootstrap["ci"], bootstrap["seed"])
        summary.update({**meta, "lang": lang, "evaluator": spec["name"], "cache_key": entry.key})
        write_json(outputs[f"{kind}_summary"], summary)
        summaries[kind] = summary
    return summaries


# --------------------------------------------------------------------------------------------------- tables, figures

def _by_lang(paths: Sequence[str], langs: Sequence[str]) -> dict[str, str]:
    if len(paths) != len(langs):
        raise XdetoxError(f"expected one file per language ({len(langs)}), got {len(paths)}")
    return dict(zip(langs, paths))


def stage_files(inputs: Mapping[str, Sequence[str]], prefix: str) -> dict[str, list[str]]:
    """A stage's per-language files among a rule's named inputs `{prefix}_{kind}` (kind: metrics, fluency, diversity;
    fluency and diversity only when enabled)."""
    return {kind: list(inputs[f"{prefix}_{kind}"]) for kind in ("metrics", "fluency", "diversity")
            if f"{prefix}_{kind}" in inputs}


def _stage_row(files: Mapping[str, Sequence[str]]) -> dict:
    """Table 2 values of one stage from its per-language files {metrics, fluency?, diversity?}."""
    return stage_row(read_json_each(files["metrics"]),
                     read_json_each(files["fluency"]) if files.get("fluency") else None,
                     read_json_each(files["diversity"]) if files.get("diversity") else None)


def scorer_notes(validation_csvs: Mapping[str, str]) -> list[str]:
    """Caption sentences naming each scorer's validation against human ratings (scorer -> its validation.csv)."""
    from ..report.validation import read_validation_csv, validation_note

    return [validation_note(read_validation_csv(path), scorer, path) for scorer, path in validation_csvs.items()]


def _language_aware_stage(langs: Sequence[str], scores: Sequence[str], langid: Sequence[str],
                          threshold: float) -> list[dict]:
    """The language-aware record of each language of one stage from its per-language score and langid files."""
    return [language_aware_record(read_jsonl(s, ("prompt_id", "sample", "toxicity")),
                                  read_jsonl(l, ("prompt_id", "sample", "detected_lang")), lang, threshold)
            for lang, s, l in zip(langs, _by_lang(scores, langs).values(), _by_lang(langid, langs).values())]


def _in_language_share(langs: Sequence[str], langid: Sequence[str]) -> float | None:
    """The mean over languages of the share of continuations in the prompt's language (Table 2's extra column)."""
    return mean_defined(in_language_share(read_jsonl(path, ("prompt_id", "sample", "detected_lang")), lang)
                        for lang, path in _by_lang(langid, langs).items())


def table2(label: str, langs: Sequence[str], inputs: Mapping[str, Sequence[str]], outputs: Mapping[str, str],
           scorer: str, threshold: float, degeneration: Mapping[str, float | None], notes: Sequence[str] = (),
           validation: Mapping[str, str] | None = None) -> list[dict]:
    """One model's Table 2 and the per-language values behind it; `inputs`: the files of stages base and dpo
    (see stage_files) and their `{stage}_scores` and `{stage}_langid` files, for the extra language-aware columns
    (EMT and ToxProb in the prompt's language, the in-language share) and the degeneration flag of the DPO row
    (`degeneration`: evaluation.degeneration's bounds); `validation`: scorer -> validation.csv, named in the notes."""
    notes = [*scorer_notes(validation or {}), *notes]
    files = {stage: stage_files(inputs, stage) for stage in ("base", "dpo")}

    def load(kind):
        if kind not in files["base"]:
            return None  # fluency or diversity disabled
        return {stage: read_json_each(f[kind]) for stage, f in files.items()}

    stage_metrics, stage_fluency, stage_diversity = load("metrics"), load("fluency"), load("diversity")
    rows = table2_rows(label, stage_metrics, langs, stage_fluency, stage_diversity)
    for row in rows:
        summary = stage_summary(_language_aware_stage(langs, inputs[f"{row['stage']}_scores"],
                                                      inputs[f"{row['stage']}_langid"], threshold))
        row.update({k: summary[k] for k in tables.LANGUAGE_KEYS})
    base, dpo = rows
    dpo["degenerate"] = "; ".join(degeneration_flags(base, dpo, degeneration))
    tables.table2(rows, len(langs), outputs["csv"], outputs["md"], outputs["tex"], scorer, notes)
    tables.per_language(outputs["per_lang"], stage_metrics, stage_fluency, stage_diversity)
    return rows


def table2_all(csv_paths: Sequence[str], outputs: Mapping[str, str], scorer: str, n_languages: int,
               notes: Sequence[str] = (), validation: Mapping[str, str] | None = None) -> list[dict]:
    """Table 2 for all configured models: the per-model tables' rows, one block per model."""
    notes = [*scorer_notes(validation or {}), *notes]
    return tables.table2_all([tables.read_rows_csv(p) for p in csv_paths], outputs["csv"], outputs["md"],
                             outputs["tex"], scorer, n_languages, notes)


def table1(langs: Sequence[str], paths: Mapping[str, Sequence[str]], outputs: Mapping[str, str], label: str,
           scorer: str, stage: str, n_prompts: int, prompt_ids: Sequence[str] | None) -> list[dict]:
    """`paths`: base_gens, base_scores, dpo_gens, dpo_scores → per-language files."""
    loaded = {k: {lang: read_jsonl(p) for lang, p in _by_lang(v, langs).items()} for k, v in paths.items()}
    rows = select_table1(langs, loaded["base_gens"], loaded["base_scores"], loaded["dpo_gens"], loaded["dpo_scores"],
                         n_prompts, prompt_ids)
    tables.table1(rows, outputs["csv"], outputs["md"], label, scorer, stage)
    return rows


def stage_flags(langs: Sequence[str], inputs: Mapping[str, Sequence[str]],
                degeneration: Mapping[str, float | None]) -> list[str]:
    """The degeneration flags of the dpo stage from the inputs `{stage}_langid` and, when diversity is evaluated,
    `{stage}_diversity` (stage: base, dpo)."""
    def values(stage):
        row = {"in_language_share": _in_language_share(langs, inputs[f"{stage}_langid"])}
        if inputs.get(f"{stage}_diversity"):
            row["dist1"] = mean_defined(d["dist1"] for d in read_json_each(inputs[f"{stage}_diversity"]))
        return row

    return degeneration_flags(values("base"), values("dpo"), degeneration)


def figure1(label: str, langs: Sequence[str], inputs: Mapping[str, Sequence[str]], out: str, scorer: str,
            degeneration: Mapping[str, float | None]) -> list[str]:
    """Per-language ToxProb and EMT, pre vs post DPO (`inputs`: the per-language metrics files `base` and `dpo`,
    and the files stage_flags reads), flagged when the DPO stage degenerates; returns the flags."""
    from ..report import figures

    flags = stage_flags(langs, inputs, degeneration)
    figures.figure1(label, list(langs), read_json_each(inputs["base"]), read_json_each(inputs["dpo"]), out, scorer,
                    flags)
    return flags


def language_aware(label: str, langs: Sequence[str], stages: Sequence[str], scores: Sequence[str],
                         langid: Sequence[str], outputs: Mapping[str, str], scorer: str, threshold: float) -> list[dict]:
    """Toxicity over all and over in-language continuations per (stage, language), and each DPO stage's change
    against base split into within-language and language-mix parts (`scores`, `langid`: per (stage, language)
    files, stage-major); CSV, decomposition CSV, Markdown, and the figure of stages base and dpo."""
    from ..report.language_aware import language_aware_csv, language_aware_figure, language_aware_markdown

    n = len(langs)
    if "base" not in stages or "dpo" not in stages:
        raise XdetoxError(f"the language-aware table compares stages base and dpo; got {list(stages)}")
    if len(scores) != n * len(stages) or len(langid) != n * len(stages):
        raise XdetoxError(f"expected {n * len(stages)} score and langid files ({len(stages)} stages × {n} languages), "
                          f"got {len(scores)} and {len(langid)}")
    by_stage = {stage: _language_aware_stage(langs, scores[i * n:(i + 1) * n], langid[i * n:(i + 1) * n], threshold)
                for i, stage in enumerate(stages)}
    records = [{"stage": stage, **r} for stage, rs in by_stage.items() for r in rs]
    decomposition = [row for stage in stages if stage != "base"
                     for row in decomposition_rows(stage, by_stage["base"], by_stage[stage])]
    language_aware_csv(records, decomposition, outputs["csv"], outputs["decomposition"])
    language_aware_markdown(records, decomposition, label, scorer, threshold, outputs["md"])
    language_aware_figure(by_stage["base"], by_stage["dpo"], decomposition, label, scorer, outputs["png"])
    return records


def seeds(label: str, langs: Sequence[str], inputs: Mapping[str, Sequence[str]], seed_list: Sequence[int],
          outputs: Mapping[str, str], scorer: str) -> None:
    """Table 2 and Figure 1 across DPO seeds; `inputs`: the files of stage base and of each seed s (prefix "seed{s}")."""
    from ..report import figures

    base = stage_files(inputs, "base")
    seed_files = {s: stage_files(inputs, f"seed{s}") for s in seed_list}
    seed_rows = {s: _stage_row(files) for s, files in seed_files.items()}
    tables.seeds_table(label, _stage_row(base), seed_rows, outputs["csv"], outputs["md"], scorer)
    figures.figure1_seeds(label, list(langs), read_json_each(base["metrics"]),
                          {s: read_json_each(files["metrics"]) for s, files in seed_files.items()}, outputs["png"],
                          scorer)


def figure10(label: str, langs: Sequence[str], base_values: Sequence[str], dpo_values: Sequence[str], out: str,
             evaluator: str) -> None:
    """Perplexity distributions per language from the per-continuation fluency files, pre vs post DPO."""
    from ..report import figures

    def kept(paths):
        return {lang: [r["ppl"] for r in read_jsonl(p) if r["ppl"] is not None] for lang, p in zip(langs, paths)}

    figures.figure10(label, list(langs), {"Pre DPO": kept(base_values), "Post DPO": kept(dpo_values)}, out, evaluator)


def figure11(label: str, inputs: Mapping[str, Sequence[str]], rates: Sequence[tuple[float, str]],
             outputs: Mapping[str, str], scorer: str, evaluator: str | None) -> list[dict]:
    """The learning-rate sweep: `rates` lists (learning rate, stage), whose files are `inputs` with prefix "lr{i}"
    (and the base stage's with prefix "base"); the figure and its CSV."""
    from ..report import figures

    base_row = _stage_row(stage_files(inputs, "base"))
    runs = {lr: (stage, _stage_row(stage_files(inputs, f"lr{i}"))) for i, (lr, stage) in enumerate(rates)}
    points = [{"lr": lr, "stage": stage, "emt": row["emt"], "tox_prob": row["tox_prob"], "avg_tox": row["avg_tox"],
               "ppl": row.get("ppl")} for lr, (stage, row) in sorted(runs.items())]
    figures.figure11(label, points, base_row, outputs["png"], outputs["csv"], scorer, evaluator)
    return points


def figure12(label: str, langs: Sequence[str], series: Mapping[str, Sequence[str]], outputs: Mapping[str, str],
             scorer: str) -> None:
    """`series`: legend label → per-language metrics paths (pre DPO, full DPO, (Q)LoRA DPO)."""
    from ..report import figures

    loaded = {name: read_json_each(paths) for name, paths in series.items()}
    figures.figure12(label, list(langs), loaded, outputs["png"], outputs["csv"], scorer)


def paper_comparison(entries: Sequence[Mapping[str, str]], outputs: Mapping[str, str], scorer: str,
                     notes: Sequence[str] = (), table3_paper: str | None = None) -> None:
    """`entries`: [{label, paper_reference, table2_csv}] → our rows beside the paper's; `table3_paper`: Table 3's
    comparison CSV (the table3 rule's), added after Table 2."""
    ours = [(e["label"], e["paper_reference"], {r["stage"]: r for r in tables.read_rows_csv(e["table2_csv"])})
            for e in entries]
    table3 = []
    if table3_paper:
        from ..report.table3 import read_paper_records

        table3 = read_paper_records(table3_paper)
    tables.paper_comparison(ours, outputs["csv"], outputs["md"], scorer, notes, table3)
