"""Multi-way parallel sentences for bilingual retrieval: one interface, aligned lists per language.

Two datasets (paper §5, App. E):
- ``parallel200``: the paper's 200 prompts, `cross-lingual-detox/translated_pairwise_data/dpo_toxicity_pairwise_{x}_200.jsonl`,
  JSON Lines ``{"Prompt": ...}``, line-aligned across languages (en = the first 200 RTP-LX EN prompts, the others
  Google-Translate translations; zh-hans is the file suffix ``zh``). Used as is: e.g. the ar file's ``&quot;``
  entities are kept, as the reference code keeps them.
- ``ntrex``: NTREX-128 `ntrex-128/newstest2019-ref.{code}.txt` (English: `newstest2019-src.eng.txt`), plain text, one
  sentence per line, line-aligned (1,997 sentences). Human translations of news, not toxic prompts.

Line *i* of every language is the translation of line *i* of every other, so a blank line or a missing line would
silently pair the wrong sentences: both are errors that name the file (and line), never skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import XdetoxError
from ..languages import NTREX_CODE, PARALLEL200_CODE, check_language

DATASETS = ("parallel200", "ntrex")


def relpath(dataset: str, lang: str) -> str:
    """Path of one language's file in the data-folder layout (the key of `xdetox/data/sources.json`)."""
    check_language(lang)
    if dataset == "parallel200":
        return f"cross-lingual-detox/translated_pairwise_data/dpo_toxicity_pairwise_{PARALLEL200_CODE[lang]}_200.jsonl"
    if dataset == "ntrex":
        if lang == "en":
            return "ntrex-128/newstest2019-src.eng.txt"
        return f"ntrex-128/newstest2019-ref.{NTREX_CODE[lang]}.txt"
    raise XdetoxError(f"unknown parallel dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def _lines(path: Path) -> list[str]:
    if not path.exists():
        raise XdetoxError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise XdetoxError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    return [line.rstrip("\r") for line in lines]


def _aligned_lines(path: Path):
    """(line number, line) of every line; a blank line is an error: the files are line-aligned, so a blank line would
    shift every later pair."""
    for lineno, line in enumerate(_lines(path), start=1):
        if not line.strip():
            raise XdetoxError(f"{path}:{lineno}: blank line (the files are line-aligned; a blank line would shift every "
                              "later pair)")
        yield lineno, line


def read_prompt_jsonl(path: str | Path, field: str = "Prompt") -> list[str]:
    """The `field` of every line of a JSON Lines file, in order; any bad or blank line is an error naming file:line."""
    path = Path(path)
    out = []
    for lineno, line in _aligned_lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise XdetoxError(f"{path}:{lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(record, dict) or field not in record:
            raise XdetoxError(f"{path}:{lineno}: expected a JSON object with a {field!r} field")
        value = record[field]
        if not isinstance(value, str) or not value.strip():
            raise XdetoxError(f"{path}:{lineno}: {field!r} must be a non-empty string, got {value!r}")
        out.append(value)
    return out


def read_text_lines(path: str | Path) -> list[str]:
    """The lines of a plain-text file, one sentence each; a blank line is an error naming file:line."""
    return [line for _, line in _aligned_lines(Path(path))]


def read_sentences(dataset: str, path: str | Path) -> list[str]:
    if dataset == "parallel200":
        return read_prompt_jsonl(path)
    if dataset == "ntrex":
        return read_text_lines(path)
    raise XdetoxError(f"unknown parallel dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def check_aligned(sentences: dict[str, list[str]], paths: dict[str, str | Path] | None = None) -> int:
    """The common number of sentences; different counts are an error listing every file with its count."""
    counts = {lang: len(texts) for lang, texts in sentences.items()}
    if not counts:
        raise XdetoxError("no languages to align")
    if len(set(counts.values())) > 1:
        paths = paths or {}
        detail = "; ".join(f"{paths.get(lang, lang)}: {n} lines" for lang, n in counts.items())
        raise XdetoxError(f"parallel files are not line-aligned (different line counts): {detail}")
    n = next(iter(counts.values()))
    if n == 0:
        raise XdetoxError(f"parallel files are empty: {', '.join(str((paths or {}).get(l, l)) for l in counts)}")
    return n


def load_files(dataset: str, paths: dict[str, str | Path], max_sentences: int | None = None) -> dict[str, list[str]]:
    """Aligned sentences per language from explicit files (all lines checked before `max_sentences` keeps the first N)."""
    if max_sentences is not None and max_sentences < 1:
        raise XdetoxError(f"max_sentences must be at least 1, got {max_sentences}")
    sentences = {lang: read_sentences(dataset, path) for lang, path in paths.items()}
    check_aligned(sentences, paths)
    if max_sentences is not None:
        sentences = {lang: texts[:max_sentences] for lang, texts in sentences.items()}
    return sentences
