"""The multilingual benchmarks of Table 3 (Okapi's ARC, HellaSwag and MMLU; Lai et al. 2023) and their set-up.

Each benchmark names the lm-evaluation-harness task that scores it, the hub dataset it reads, the languages it has,
and the Okapi set-up (the paper preset's default): ARC 25-shot on test with shots from train, HellaSwag 0-shot on
validation, MMLU 25-shot on test with shots from dev (the hub's ``train`` split of ``alexandrainst/m_mmlu`` is MMLU's
dev set). The paper states no metric; every task records ``acc`` and, where the task has it, ``acc_norm``.

Two MMLU variants: ``mmlu`` is the harness's ``m_mmlu_{lang}``, which scores the answer *letter*; ``mmlu_fulltext``
is the project's task that scores the full choice text after Okapi's own prompt, as Okapi's evaluation code did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .. import XdetoxError
from ..languages import PAPER_LANGUAGES

#: the 31 languages of Okapi's translated ARC / HellaSwag / MMLU (nlp-uoregon/Okapi, laiviet/lm-evaluation-harness)
OKAPI_LANGUAGES: tuple[str, ...] = (
    "ar", "bn", "ca", "da", "de", "es", "eu", "fr", "gu", "hi", "hr", "hu", "hy", "id", "it", "kn", "ml", "mr",
    "ne", "nl", "pt", "ro", "ru", "sk", "sr", "sv", "ta", "te", "uk", "vi", "zh",
)
#: alexandrainst/m_mmlu also carries English, Icelandic and Norwegian Bokmål (the harness ships m_mmlu_{en,is,nb})
M_MMLU_LANGUAGES: tuple[str, ...] = tuple(sorted(OKAPI_LANGUAGES + ("en", "is", "nb")))

#: Table 3's languages: the paper's 17 RTP-LX languages plus Vietnamese (Table 3 reports vi, ru, hi, zh)
CAPABILITY_LANGUAGES: tuple[str, ...] = PAPER_LANGUAGES + ("vi",)

#: project language code → the dataset config name of the Okapi datasets
_TO_OKAPI = {"zh-hans": "zh"}
_FROM_OKAPI = {v: k for k, v in _TO_OKAPI.items()}


def okapi_code(lang: str) -> str:
    return _TO_OKAPI.get(lang, lang)


def project_code(lang: str) -> str:
    """The code the workflow uses for a language (``zh`` → ``zh-hans``, as in the RTP-LX paths)."""
    return _FROM_OKAPI.get(lang, lang)


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    #: hub dataset the task reads; its last path part names the local folder ({local_dir}/{m_arc|...}/{lang}/)
    dataset: str
    #: task name in lm-evaluation-harness (or in this project's task folder), formatted with the Okapi language code
    task: str
    languages: tuple[str, ...]
    eval_split: str
    fewshot_split: str | None
    num_fewshot: int
    metrics: tuple[str, ...]
    #: the metric Table 3 shows (the Open LLM / Okapi leaderboards' convention: acc_norm for ARC and HellaSwag, acc for
    #: MMLU); the paper does not say which it used, so both are always recorded
    table_metric: str
    #: JSONL fields every local row must carry (the hub dataset's column names, which the task's process_docs reads)
    fields: tuple[str, ...]
    #: fields the task reads when present (filled with null when a local row lacks them)
    optional_fields: tuple[str, ...] = ()
    #: the dataset's split names on the hub (and the file names of the local layout)
    splits: tuple[str, ...] = ()
    #: Okapi language → task name, where the project ships a task the harness lacks
    task_overrides: Mapping[str, str] = field(default_factory=dict)
    #: who ships the task: "lm-eval" (the harness's own YAML) or "xdetox" (src/xdetox/capability/tasks)
    source: str = "lm-eval"

    @property
    def dataset_dir(self) -> str:
        return self.dataset.rsplit("/", 1)[-1]

    def task_name(self, okapi_lang: str) -> str:
        return self.task_overrides.get(okapi_lang) or self.task.format(lang=okapi_lang)

    def task_source(self, okapi_lang: str) -> str:
        return "xdetox" if okapi_lang in self.task_overrides else self.source


_ARC_FIELDS = ("id", "instruction", "option_a", "option_b", "option_c", "option_d", "answer")
_MMLU_FIELDS = ("instruction", "option_a", "option_b", "option_c", "option_d", "answer")

BENCHMARKS: dict[str, Benchmark] = {
    "arc": Benchmark(
        name="arc", title="ARC", dataset="alexandrainst/m_arc", task="arc_{lang}", languages=OKAPI_LANGUAGES,
        eval_split="test", fewshot_split="train", num_fewshot=25, metrics=("acc", "acc_norm"), table_metric="acc_norm",
        fields=_ARC_FIELDS, optional_fields=("option_e",), splits=("train", "validation", "test"),
    ),
    "hellaswag": Benchmark(
        name="hellaswag", title="HellaSwag", dataset="alexandrainst/m_hellaswag", task="hellaswag_{lang}",
        languages=OKAPI_LANGUAGES, eval_split="val", fewshot_split=None, num_fewshot=0,
        metrics=("acc", "acc_norm"), table_metric="acc_norm",
        fields=("activity_label", "ctx_a", "ctx_b", "endings", "label"),
        optional_fields=("ind", "ctx", "source_id", "split", "split_type"), splits=("val",),
        # the harness has no hellaswag_zh (EleutherAI/lm-evaluation-harness#3121): the project ships one
        task_overrides={"zh": "hellaswag_zh"},
    ),
    "mmlu_fulltext": Benchmark(
        name="mmlu_fulltext", title="MMLU", dataset="alexandrainst/m_mmlu", task="m_mmlu_fulltext_{lang}",
        languages=M_MMLU_LANGUAGES, eval_split="test", fewshot_split="train", num_fewshot=25,
        metrics=("acc", "acc_norm"), table_metric="acc", fields=_MMLU_FIELDS, optional_fields=("id",),
        splits=("train", "val", "test"), source="xdetox",
    ),
    "mmlu": Benchmark(
        name="mmlu", title="MMLU (letters)", dataset="alexandrainst/m_mmlu", task="m_mmlu_{lang}",
        languages=M_MMLU_LANGUAGES, eval_split="test", fewshot_split="train", num_fewshot=25, metrics=("acc",),
        table_metric="acc", fields=_MMLU_FIELDS, optional_fields=("id",), splits=("train", "val", "test"),
    ),
}

#: the paper preset's benchmarks: Okapi's set-up, with Okapi's full-text MMLU scoring
PAPER_BENCHMARKS: tuple[str, ...] = ("arc", "hellaswag", "mmlu_fulltext")
#: the languages Table 3 of the paper reports
PAPER_TABLE3_LANGUAGES: tuple[str, ...] = ("vi", "ru", "hi", "zh-hans")


@dataclass(frozen=True)
class TaskSpec:
    """One (benchmark, language) evaluation with its resolved set-up."""

    benchmark: Benchmark
    lang: str
    num_fewshot: int
    eval_split: str
    fewshot_split: str | None
    table_metric: str

    @property
    def key(self) -> tuple[str, str]:
        return self.benchmark.name, self.lang

    @property
    def okapi_lang(self) -> str:
        return okapi_code(self.lang)

    @property
    def task_name(self) -> str:
        return self.benchmark.task_name(self.okapi_lang)

    @property
    def task_source(self) -> str:
        return self.benchmark.task_source(self.okapi_lang)

    @property
    def needed_splits(self) -> tuple[str, ...]:
        if self.num_fewshot > 0 and self.fewshot_split and self.fewshot_split != self.eval_split:
            return self.eval_split, self.fewshot_split
        return (self.eval_split,)


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise XdetoxError(f"unknown capability benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def has_language(benchmark: str, lang: str) -> bool:
    return okapi_code(lang) in get_benchmark(benchmark).languages


def resolve(benchmark: str, lang: str, settings: Mapping | None = None) -> TaskSpec:
    """The task of one (benchmark, language) with the Okapi set-up, overridden by `settings`.

    `settings` (a benchmark's config section): ``num_fewshot``, ``split`` (evaluated split), ``fewshot_split``,
    ``metric`` (the one Table 3 shows). Raises XdetoxError for a benchmark without that language.
    """
    bench = get_benchmark(benchmark)
    okapi = okapi_code(lang)
    if okapi not in bench.languages:
        have = [project_code(code) for code in bench.languages]
        in_paper = [code for code in CAPABILITY_LANGUAGES if okapi_code(code) in bench.languages]
        raise XdetoxError(
            f"capability benchmark {benchmark!r} has no language {lang!r} ({bench.dataset} has no config "
            f"{okapi!r}); of the paper's languages it has {', '.join(in_paper)} (all: {', '.join(have)})"
        )
    settings = dict(settings or {})
    unknown = set(settings) - {"num_fewshot", "split", "fewshot_split", "metric"}
    if unknown:
        raise XdetoxError(f"capability benchmark {benchmark!r}: unknown setting(s) {', '.join(sorted(unknown))}")
    shots = settings.get("num_fewshot")
    shots = bench.num_fewshot if shots is None else int(shots)
    split = settings.get("split") or bench.eval_split
    fewshot_split = settings.get("fewshot_split", bench.fewshot_split)
    metric = settings.get("metric") or bench.table_metric
    for value, what in ((split, "split"), (fewshot_split, "fewshot_split")):
        if value is not None and value not in bench.splits:
            raise XdetoxError(f"capability benchmark {benchmark!r}: {what} {value!r} is not a split of "
                              f"{bench.dataset} ({', '.join(bench.splits)})")
    if shots < 0:
        raise XdetoxError(f"capability benchmark {benchmark!r}: num_fewshot must be >= 0, got {shots}")
    if shots > 0 and not fewshot_split:
        raise XdetoxError(f"capability benchmark {benchmark!r}: num_fewshot={shots} needs a fewshot_split "
                          f"({bench.title} is evaluated 0-shot in Okapi's set-up)")
    if metric not in bench.metrics:
        raise XdetoxError(f"capability benchmark {benchmark!r}: metric {metric!r} is not recorded by its task "
                          f"({', '.join(bench.metrics)})")
    return TaskSpec(bench, lang, shots, split, fewshot_split if shots > 0 else None, metric)


def task_grid(benchmarks: Iterable[str], langs: Iterable[str], strict: bool = True
              ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(benchmark, lang) pairs to evaluate and those skipped because the benchmark lacks the language.

    With `strict`, a missing pair is an error (the default: a configured language silently missing from Table 3
    would be a surprise); without it, missing pairs are returned so the caller can say which were skipped.
    """
    keep, skipped = [], []
    for b in benchmarks:
        get_benchmark(b)
        for lang in langs:
            (keep if has_language(b, lang) else skipped).append((b, lang))
    if strict and skipped:
        missing = ", ".join(f"{b}/{lang}" for b, lang in skipped)
        raise XdetoxError(f"capability: these (benchmark, language) pairs do not exist: {missing}; drop the "
                          "languages or benchmarks, or allow skipping them")
    return keep, skipped
