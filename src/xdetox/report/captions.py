"""Prose the rule files compute at parse time: notes under Table 2, the fluency evaluator named in figure titles.

Parse-time code: imported by workflow/rules/common.smk, so it imports nothing heavy (no torch, no matplotlib).
"""

from __future__ import annotations

from typing import Any

from ..evaluators import diversity_tokenizer_name, resolve_evaluator


def describe_evaluator(config: dict[str, Any], evaluated_model: str | None = None) -> str:
    """One sentence for captions: which model computes PPL, how, and whether it is independent of the evaluated one."""
    flu = config["evaluation"]["fluency"]
    kind, value = resolve_evaluator(config, flu["evaluator"])
    mode = {"reference": "the reference code's mT5 computation (encoder input = decoder labels; "
                         "xg/eval/metric_perplexity.py)",
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
    """A short label for figure titles, e.g. "PPL: causal mode, base checkpoint of gemma3-270m"."""
    flu = config["evaluation"]["fluency"]
    kind, value = resolve_evaluator(config, flu["evaluator"])
    who = f"base checkpoint of {value}" if kind == "model" else value
    return f"PPL: {flu['mode']} mode, {who}"


def table2_notes(config: dict[str, Any], model: str | None = None) -> list[str]:
    """The notes under Table 2: fluency evaluator, diversity tokenizer, where the bootstrap intervals are."""
    ev = config["evaluation"]
    notes = []
    if ev["fluency"]["enabled"]:
        notes.append(describe_evaluator(config, model))
    if ev["diversity"]["enabled"]:
        kind, value = resolve_evaluator(config, diversity_tokenizer_name(config))
        who = f"the tokenizer of `{value}`" + (" (base checkpoint)" if kind == "model" else "")
        notes.append(f"Dist-n: distinct n-grams / total tokens per prompt over its samples (the reference's definition), "
                     f"mean over prompts; {who}" + ("" if value == "google/mt5-xl" else " (the paper: google/mt5-xl)") + ".")
    boot = ev["bootstrap"]
    if boot["n"]:
        notes.append(f"Per-language {boot['ci']:.0%} bootstrap intervals over prompts ({boot['n']} resamples) are in "
                     "per_language.csv and the metrics JSON files.")
    return notes
