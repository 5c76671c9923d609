"""The evaluation branch's workflow steps (workflow/rules/evaluate.smk): files in, files out, like xdetox.steps.

Fluency and diversity per (model, stage) over all languages (the evaluator is loaded once per job), Tables 1 and 2,
the seed summary, Figures 1 (seed-averaged), 10, 11 and 12, and the comparison with the paper's Table 2.
Also: checks of the `evaluation` config section and the resolution of evaluator names (a model key, a folder, a hub id).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from . import XdetoxError
from .io import read_json, read_jsonl, write_json, write_jsonl

log = logging.getLogger("xdetox.evaluation")


# ------------------------------------------------------------------------------------------------------------ config

def resolve_evaluator(config: dict[str, Any], name: str | None) -> tuple[str, str]:
    """("model", key) for a key of `models` (or None: the first model), ("path", folder), or ("hub", id)."""
    if name is None:
        return "model", next(iter(config["models"]))
    if name in config["models"]:
        return "model", name
    if Path(name).is_dir():
        return "path", name
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise XdetoxError(f"config key evaluation: {name!r} is neither a key of models, an existing folder, nor a hub id")
    return "hub", name


def hub_folder_name(hub_id: str, revision: str | None = None) -> str:
    """A folder name for a hub-id evaluator under resources/models/evaluators/."""
    return hub_id.replace("/", "--") + (f"@{revision}" if revision else "")


def fluency_evaluator_name(config: dict[str, Any]) -> str | None:
    return config["evaluation"]["fluency"]["evaluator"]


def diversity_tokenizer_name(config: dict[str, Any]) -> str | None:
    return config["evaluation"]["diversity"]["tokenizer"] or fluency_evaluator_name(config)


def describe_evaluator(config: dict[str, Any], evaluated_model: str | None = None) -> str:
    """One sentence for captions: which model computes PPL, how, and whether it is independent of the evaluated one."""
    flu = config["evaluation"]["fluency"]
    kind, value = resolve_evaluator(config, flu["evaluator"])
    mode = {"reference": "the reference code's mT5 computation (encoder input = decoder labels; protocol §6 item 8)",
            "causal": "conditional perplexity under a causal LM"}[flu["mode"]]
    who = {"model": f"the base checkpoint of `{value}`", "path": f"the checkpoint at `{value}`", "hub": f"`{value}`"}[kind]
    text = f"PPL: median per language of {mode}, evaluator {who}"
    if flu["max_samples_per_prompt"]:
        text += f", first {flu['max_samples_per_prompt']} samples of each prompt"
    text += "."
    if kind == "hub" and value == "google/mt5-xl" and flu["mode"] == "reference":
        text += " This is the paper's set-up."
    else:
        text += " Not the paper's evaluator (google/mt5-xl, reference mode): values are not comparable with its numbers."
    if kind == "model" and evaluated_model is not None and value == evaluated_model:
        text += (" The evaluator is the evaluated model's own base checkpoint, so it is not an independent judge: "
                 "it favours its own pre-DPO continuations.")
    return text


def evaluator_label(config: dict[str, Any]) -> str:
    """A short label for figure titles, e.g. "PPL: causal, base checkpoint of gemma3-270m"."""
    flu = config["evaluation"]["fluency"]
    kind, value = resolve_evaluator(config, flu["evaluator"])
    who = f"base checkpoint of {value}" if kind == "model" else value
    return f"PPL: {flu['mode']} mode, {who}"


def check_evaluation_config(config: dict[str, Any]) -> None:
    """Checks the schema cannot express; errors name the config key."""
    ev = config["evaluation"]
    models = config["models"]
    for key in ("fluency.evaluator", "diversity.tokenizer"):
        section, field = key.split(".")
        if ev[section][field] is not None:
            resolve_evaluator(config, ev[section][field])
    t1 = ev["table1"]
    if t1["model"] is not None and t1["model"] not in models:
        raise XdetoxError(f"config key evaluation.table1.model: {t1['model']!r} is not a key of models")
    for i, lang in enumerate(t1["languages"]):
        from .languages import check_language

        check_language(lang, f"config key evaluation.table1.languages[{i}]")
    fig12 = ev.get("figure12")
    if fig12:
        for key in ("model", "compare_model"):
            if fig12.get(key) is not None and fig12[key] not in models:
                raise XdetoxError(f"config key evaluation.figure12.{key}: {fig12[key]!r} is not a key of models")
        other = fig12.get("compare_model") or fig12["model"]
        if other == fig12["model"] and not fig12.get("compare_method"):
            raise XdetoxError("config key evaluation.figure12: set compare_model (a second model entry trained with "
                              "dpo.method lora/qlora) or compare_method (an extra DPO stage of the same model)")


def table1_model(config: dict[str, Any]) -> str:
    return config["evaluation"]["table1"]["model"] or next(iter(config["models"]))


def table1_languages(config: dict[str, Any]) -> list[str]:
    return [lang for lang in config["evaluation"]["table1"]["languages"] if lang in config["languages"]]


def download_evaluator(hub_id: str, revision: str | None, out_dir: str | Path) -> Path:
    """A hub evaluator's checkpoint; offline, set evaluation.fluency.evaluator (and diversity.tokenizer) to a folder."""
    from .models import download_hub

    return download_hub(hub_id, revision, out_dir, what="evaluator")


# ------------------------------------------------------------------------------------------------------------- steps

def _by_lang(paths: Sequence[str], langs: Sequence[str]) -> dict[str, str]:
    if len(paths) != len(langs):
        raise XdetoxError(f"expected one file per language ({len(langs)}), got {len(paths)}")
    return dict(zip(langs, paths))


# Fluency and diversity: one evaluator load per (model, stage), one output per language (like generation).
#
# `quality_stage_step` (one job per model and stage) computes every language missing from a content-addressed cache
# with one evaluator load; `quality_step` (one job per language) writes its language's outputs from the cache entry,
# or, on a miss (that language's generations changed alone), computes it and the stage's other missing languages
# under the stage's lock. An entry's key covers the generation file's bytes, the evaluator checkpoint (file sizes and
# times), the settings that change values and the metric's code, so a hit is what a fresh computation would give.

QUALITY_CACHE_VERSION = 1
KINDS = ("fluency", "diversity")
#: fluency settings that cannot change values beyond float noise (batching) or only say where the job runs
FLUENCY_NOT_IN_KEY = ("enabled", "batch_size", "mem_mb", "runtime", "gpus", "revision", "evaluator")


def _code_fingerprint(kind: str) -> str:
    import hashlib
    import json
    from importlib import metadata

    digest = hashlib.sha256((Path(__file__).resolve().parent / "metrics" / f"{kind}.py").read_bytes())
    versions = {}
    for package in ("torch", "transformers", "tokenizers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    digest.update(json.dumps(versions, sort_keys=True).encode())
    return digest.hexdigest()


def quality_key(kind: str, generations: str, evaluator_dir: str, settings: dict,
                evaluator_fp: str | None = None) -> tuple[str, dict]:
    import hashlib
    import json

    from .generation.cache import file_sha256, model_fingerprint

    ingredients = {
        "version": QUALITY_CACHE_VERSION, "kind": kind, "generations": file_sha256(generations),
        "evaluator": evaluator_fp or model_fingerprint(evaluator_dir),
        "settings": {k: v for k, v in settings.items() if k not in FLUENCY_NOT_IN_KEY} if kind == "fluency" else {},
        "code": _code_fingerprint(kind),
    }
    blob = json.dumps(ingredients, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:40], ingredients


def compute_quality(kind: str, evaluator_dir: str, settings: dict, generation_files: dict[str, str],
                    threads: int | None = None) -> dict[str, list[dict]]:
    """Per-sample perplexities (fluency) or per-prompt Dist-n (diversity) for each language, one evaluator load."""
    if not generation_files:
        return {}
    if kind == "fluency":
        import torch

        from .metrics.fluency import load_evaluator, perplexities, select_samples

        if threads:
            torch.set_num_threads(threads)
        model, tokenizer = load_evaluator(evaluator_dir, settings["mode"], settings["dtype"])
        out = {}
        for lang, path in generation_files.items():
            records = select_samples(read_jsonl(path, ("prompt_id", "sample", "prompt", "text")),
                                     settings["max_samples_per_prompt"])
            out[lang] = perplexities(model, tokenizer, records, settings["mode"], settings["batch_size"],
                                     settings["max_ppl"])
            kept = sum(r["ppl"] is not None for r in out[lang])
            log.info("fluency %s: %d of %d continuations kept", lang, kept, len(out[lang]))
        return out
    from transformers import AutoTokenizer

    from .metrics.diversity import PieceDecoder, per_prompt_records

    decoder = PieceDecoder(AutoTokenizer.from_pretrained(evaluator_dir))
    return {lang: per_prompt_records(read_jsonl(path, ("prompt_id", "text")), decoder)
            for lang, path in generation_files.items()}


def _cache(cache_dir: str, namespace: str, kind: str):
    from .generation.cache import GenerationCache

    return GenerationCache(cache_dir, f"{namespace}/{kind}" if namespace else kind)


def _fill_quality(kind: str, evaluator_dir: str, settings: dict, generation_files: dict[str, str], cache_dir: str,
                  namespace: str, threads: int | None) -> dict[str, dict]:
    from .generation.cache import model_fingerprint
    from .generation.runner import stage_lock

    cache = _cache(cache_dir, namespace, kind)
    evaluator_fp = model_fingerprint(evaluator_dir)
    with stage_lock(cache):
        keys = {lang: quality_key(kind, path, evaluator_dir, settings, evaluator_fp)
                for lang, path in generation_files.items()}
        missing = {lang: path for lang, path in generation_files.items() if cache.get(lang, keys[lang][0]) is None}
        log.info("%s cache %s: %d cached, %d to compute (%s)", kind, cache.root, len(generation_files) - len(missing),
                 len(missing), ", ".join(missing) or "-")
        if missing:
            for lang, records in compute_quality(kind, evaluator_dir, settings, missing, threads).items():
                cache.put(lang, keys[lang][0], records, keys[lang][1])
    return {lang: {"key": keys[lang][0], "computed": lang in missing} for lang in generation_files}


def quality_stage_step(kinds: dict[str, dict], generation_files: dict[str, str], out: str, cache_dir: str,
                       namespace: str, threads: int | None = None) -> dict:
    """`kinds`: kind -> {evaluator_dir, settings}. Fills the cache for every language; writes a manifest."""
    import time

    start = time.perf_counter()
    manifest = {"cache": cache_dir, "namespace": namespace, "kinds": {}}
    for kind, spec in kinds.items():
        manifest["kinds"][kind] = _fill_quality(kind, spec["evaluator_dir"], spec["settings"], generation_files,
                                                cache_dir, namespace, threads)
    manifest["seconds"] = round(time.perf_counter() - start, 2)
    write_json(out, manifest)
    return manifest


def quality_step(lang: str, generations: str, kinds: dict[str, dict], outputs: dict[str, str], cache_dir: str,
                 namespace: str, siblings: dict[str, str], bootstrap: dict, meta: dict,
                 threads: int | None = None) -> dict:
    """One language's fluency values + summary and diversity summary, from the cache (computed here on a miss,
    together with every sibling language missing from the cache)."""
    from .generation.cache import GenerationCache
    from .metrics import diversity, fluency

    summaries = {}
    for kind, spec in kinds.items():
        cache = _cache(cache_dir, namespace, kind)
        key, _ = quality_key(kind, generations, spec["evaluator_dir"], spec["settings"])
        entry = cache.get(lang, key)
        if entry is None:
            log.info("%s %s: not in the cache (%s); computing the stage's missing languages here", kind, lang, key)
            files = {lang: generations, **{o: p for o, p in siblings.items() if o != lang and Path(p).is_file()}}
            _fill_quality(kind, spec["evaluator_dir"], spec["settings"], files, cache_dir, namespace, threads)
            entry = cache.get(lang, key)
        records = read_jsonl(entry)
        if kind == "fluency":
            GenerationCache.materialize(entry, outputs["fluency_values"])
            summary = fluency.summarize(records, bootstrap["n"], bootstrap["ci"], bootstrap["seed"])
            s = spec["settings"]
            summary.update({"mode": s["mode"], "max_samples_per_prompt": s["max_samples_per_prompt"],
                            "max_ppl": s["max_ppl"], "dtype": s["dtype"]})
        else:
            summary = diversity.summarize(records, bootstrap["n"], bootstrap["ci"], bootstrap["seed"])
        summary.update({**meta, "lang": lang, "evaluator": spec["name"], "cache_key": key})
        write_json(outputs[f"{kind}_summary"], summary)
        summaries[kind] = summary
    return summaries


def load_all(paths: Sequence[str]) -> list[dict]:
    return [read_json(p) for p in paths]


def table2_step(label: str, langs: Sequence[str], metrics: dict[str, Sequence[str]],
                fluency: dict[str, Sequence[str]] | None, diversity: dict[str, Sequence[str]] | None,
                outputs: dict[str, str], scorer: str, notes: Sequence[str] = ()) -> list[dict]:
    """`metrics` / `fluency` / `diversity`: stage → per-language JSON paths (fluency/diversity None when disabled)."""
    from .report.tables import table2

    return table2(label, {s: load_all(p) for s, p in metrics.items()}, list(langs), outputs["csv"], outputs["md"],
                  outputs.get("per_lang"), scorer=scorer,
                  fluency={s: load_all(p) for s, p in fluency.items()} if fluency else None,
                  diversity={s: load_all(p) for s, p in diversity.items()} if diversity else None,
                  tex_out=outputs.get("tex"), notes=notes)


def table2_all_step(csv_paths: Sequence[str], outputs: dict[str, str], scorer: str, n_languages: int,
                    notes: Sequence[str] = ()) -> list[dict]:
    from .report.tables import read_rows_csv, table2_all

    return table2_all([read_rows_csv(p) for p in csv_paths], outputs["csv"], outputs["md"], outputs["tex"], scorer,
                      n_languages, notes)


def select_table1(langs: Sequence[str], base_gens: dict, base_scores: dict, dpo_gens: dict, dpo_scores: dict,
                  n_prompts: int = 1, prompt_ids: Sequence[str] | None = None) -> list[dict]:
    """Per language, the prompts of the most toxic base continuations (or the given prompt ids), each shown with its
    most toxic base sample and the DPO continuation of the same prompt and sample index. Ties: first in file order."""
    rows = []
    for lang in langs:
        key = lambda r: (str(r["prompt_id"]), int(r["sample"]))  # noqa: E731
        gens_b = {key(r): r for r in base_gens[lang]}
        gens_d = {key(r): r for r in dpo_gens[lang]}
        tox_d = {key(r): r["toxicity"] for r in dpo_scores[lang]}
        best: dict[str, tuple[float, int, tuple]] = {}
        for order, s in enumerate(base_scores[lang]):
            k = key(s)
            if prompt_ids is not None and k[0] not in set(map(str, prompt_ids)):
                continue
            if k[0] not in best or s["toxicity"] > best[k[0]][0]:
                best[k[0]] = (s["toxicity"], order, k)
        if prompt_ids is not None:
            missing = [p for p in prompt_ids if str(p) not in best]
            if missing:
                raise XdetoxError(f"evaluation.table1.prompt_ids: {lang} has no prompt(s) {missing}")
            chosen = [best[str(p)] for p in prompt_ids]
        else:
            chosen = sorted(best.values(), key=lambda t: (-t[0], t[1]))[:n_prompts]
        for tox, _, k in chosen:
            if k not in gens_d:
                raise XdetoxError(f"table 1: the DPO generations of {lang} lack prompt {k[0]} sample {k[1]}")
            rows.append({"lang": lang, "prompt_id": k[0], "sample": k[1], "prompt": gens_b[k]["prompt"],
                         "before": gens_b[k]["text"], "after": gens_d[k]["text"], "tox_before": tox,
                         "tox_after": tox_d[k]})
    return rows


def table1_step(langs: Sequence[str], paths: dict[str, Sequence[str]], outputs: dict[str, str], label: str, scorer: str,
                stage: str, n_prompts: int, prompt_ids: Sequence[str] | None) -> list[dict]:
    """`paths`: base_gens, base_scores, dpo_gens, dpo_scores → per-language files."""
    from .report.tables import table1

    loaded = {k: {lang: read_jsonl(p) for lang, p in _by_lang(v, langs).items()} for k, v in paths.items()}
    rows = select_table1(langs, loaded["base_gens"], loaded["base_scores"], loaded["dpo_gens"], loaded["dpo_scores"],
                         n_prompts, prompt_ids)
    table1(rows, outputs["csv"], outputs["md"], label, scorer, stage)
    return rows


def _stage_row(metric_paths, fluency_paths=None, diversity_paths=None) -> dict:
    from .report.tables import stage_row

    return stage_row(load_all(metric_paths), load_all(fluency_paths) if fluency_paths else None,
                     load_all(diversity_paths) if diversity_paths else None)


def seeds_step(label: str, langs: Sequence[str], base: dict, seeds: dict[int, dict], outputs: dict[str, str],
               scorer: str) -> None:
    """`base` and each `seeds[s]`: {metrics: [...], fluency: [...] | None, diversity: [...] | None} paths."""
    from .report.figures import figure1_seeds
    from .report.tables import seeds_table

    base_row = _stage_row(base["metrics"], base.get("fluency"), base.get("diversity"))
    seed_rows = {s: _stage_row(p["metrics"], p.get("fluency"), p.get("diversity")) for s, p in seeds.items()}
    seeds_table(label, base_row, seed_rows, outputs["csv"], outputs["md"], scorer)
    figure1_seeds(label, list(langs), load_all(base["metrics"]), {s: load_all(p["metrics"]) for s, p in seeds.items()},
                  outputs["png"], scorer)


def figure10_step(label: str, langs: Sequence[str], base_values: Sequence[str], dpo_values: Sequence[str], out: str,
                  evaluator: str) -> None:
    from .report.figures import figure10

    def load(paths):
        return {lang: [r["ppl"] for r in read_jsonl(p) if r["ppl"] is not None] for lang, p in zip(langs, paths)}

    figure10(label, list(langs), {"Pre DPO": load(base_values), "Post DPO": load(dpo_values)}, out, evaluator)


def figure11_step(label: str, base: dict, runs: dict[float, dict], outputs: dict[str, str], scorer: str,
                  evaluator: str | None) -> list[dict]:
    """`runs`: learning rate → {stage, metrics, fluency} paths; writes the figure and its CSV."""
    import csv

    from .io import atomic_open
    from .report.figures import figure11

    base_row = _stage_row(base["metrics"], base.get("fluency"))
    points = []
    for lr, run in sorted(runs.items()):
        row = _stage_row(run["metrics"], run.get("fluency"))
        points.append({"lr": lr, "stage": run["stage"], "emt": row["emt"], "tox_prob": row["tox_prob"],
                       "avg_tox": row["avg_tox"], "ppl": row.get("ppl")})
    with atomic_open(outputs["csv"]) as handle:
        writer = csv.DictWriter(handle, fieldnames=["lr", "stage", "emt", "tox_prob", "avg_tox", "ppl"])
        writer.writeheader()
        writer.writerow({"lr": "", "stage": "base", **{k: base_row.get(k, "") for k in ("emt", "tox_prob", "avg_tox")},
                         "ppl": base_row.get("ppl", "")})
        for p in points:
            writer.writerow({k: ("" if v is None else v) for k, v in p.items()})
    figure11(label, points, base_row, outputs["png"], scorer, evaluator)
    return points


def figure12_step(label: str, langs: Sequence[str], series: dict[str, Sequence[str]], outputs: dict[str, str],
                  scorer: str) -> None:
    """`series`: legend label → per-language metrics paths (pre DPO, full DPO, (Q)LoRA DPO)."""
    import csv

    from .io import atomic_open
    from .languages import short_label
    from .report.figures import figure12

    loaded = {name: load_all(paths) for name, paths in series.items()}
    with atomic_open(outputs["csv"]) as handle:
        writer = csv.writer(handle)
        writer.writerow(["lang", "run", "emt", "tox_prob", "avg_tox", "emt_lo", "emt_hi", "tox_prob_lo", "tox_prob_hi"])
        for name, metrics in loaded.items():
            for m in metrics:
                ci = m.get("ci", {})
                writer.writerow([short_label(m["lang"]), name, m["emt"], m["tox_prob"], m["avg_tox"],
                                 *ci.get("emt", [None, None]), *ci.get("tox_prob", [None, None])])
    figure12(label, list(langs), loaded, outputs["png"], scorer)


def paper_comparison_step(entries: Sequence[dict], outputs: dict[str, str], scorer: str,
                          notes: Sequence[str] = ()) -> None:
    """`entries`: [{label, paper_reference, table2_csv}] → our rows beside the paper's."""
    from .report.tables import paper_comparison, read_rows_csv

    ours = []
    for e in entries:
        rows = {r["stage"]: r for r in read_rows_csv(e["table2_csv"])}
        ours.append((e["label"], e["paper_reference"], rows))
    paper_comparison(ours, outputs["csv"], outputs["md"], scorer, notes)
