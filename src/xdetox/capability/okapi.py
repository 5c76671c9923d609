"""Document processing of the project's own harness tasks (referenced by the YAMLs in ``tasks/`` as ``!function``).

- ``hellaswag_zh``: Okapi's Chinese HellaSwag has rows whose endings are ``{"zh": ..., "en": ...}`` objects instead of
  strings (the reason the harness ships no ``hellaswag_zh``, EleutherAI/lm-evaluation-harness#3121). Endings are
  normalised to their Chinese text, then processed exactly as the harness's ``hellaswag_{lang}`` tasks do.
- ``m_mmlu_fulltext_{lang}``: Okapi's own MMLU task (laiviet/lm-evaluation-harness, lm_eval/tasks/multilingual_mmlu.py)
  prompts ``Question: …\\nChoices:\\nA. …\\nB. …\\nC. …\\nD. …\\nAnswer:`` and scores the full text of each choice,
  whereas the harness's ``m_mmlu_{lang}`` scores the letters A–D after a different prompt.
"""

from __future__ import annotations

import ast
import json
from typing import Any

MMLU_KEYS = ("A", "B", "C", "D")


def zh_ending(ending: Any) -> str:
    """The Chinese text of one HellaSwag ending: a string as is, a {zh, en} object (or its JSON / repr) → its zh."""
    value = ending
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):
            # hub conversions may have stringified the objects, as JSON or as a Python dict repr
            for parse in (json.loads, ast.literal_eval):
                try:
                    value = parse(text)
                    break
                except (ValueError, SyntaxError):
                    continue
            else:
                return ending
    if isinstance(value, dict):
        if "zh" not in value:
            raise ValueError(f"hellaswag_zh: an ending object has no 'zh' key: {value!r}")
        return value["zh"]
    if isinstance(value, str):
        return value
    raise ValueError(f"hellaswag_zh: an ending is neither text nor a {{zh, en}} object: {ending!r}")


def normalize_hellaswag_row(row: dict) -> dict:
    return {**row, "endings": [zh_ending(e) for e in row["endings"]], "label": str(row["label"]).strip()}


def process_hellaswag_zh(dataset):
    from lm_eval.tasks.okapi.hellaswag_multilingual.utils import process_docs

    return process_docs(dataset.map(normalize_hellaswag_row))


def mmlu_fulltext_doc(doc: dict) -> dict:
    choices = [doc["option_a"], doc["option_b"], doc["option_c"], doc["option_d"]]
    prompt = "Question: " + doc["instruction"] + "\nChoices:\n"
    prompt += "".join(f"{key}. {choice}\n" for key, choice in zip(MMLU_KEYS, choices))
    prompt += "Answer:"
    answer = doc["answer"]
    gold = MMLU_KEYS.index(answer.strip()) if isinstance(answer, str) else int(answer)
    return {"query": prompt, "choices": choices, "gold": gold}


def process_mmlu_fulltext(dataset):
    return dataset.map(mmlu_fulltext_doc)
