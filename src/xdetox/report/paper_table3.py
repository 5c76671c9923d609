"""The paper's Table 3 (§2, Table 3): BLOOM-7B1's multilingual ARC, HellaSwag and MMLU before and after
English DPO, in vi, ru, hi, zh (percentages, as printed).

The paper names the benchmarks (Okapi's, Lai et al. 2023) but neither the metric nor the shots; Okapi's own
evaluation code defines the set-up the project uses by default (xdetox.capability.benchmarks).
"""

from __future__ import annotations

#: paper_reference key → (label, {lang: {benchmark: (before, after)}}); lang codes as in the workflow (zh-hans)
PAPER_TABLE3: dict[str, tuple[str, dict[str, dict[str, tuple[float, float]]]]] = {
    "bloom-7.1b": ("BLOOM (7.1B)", {
        "vi": {"arc": (33.68, 33.93), "hellaswag": (47.37, 47.30), "mmlu": (28.03, 28.48)},
        "ru": {"arc": (27.46, 28.14), "hellaswag": (32.60, 32.84), "mmlu": (27.09, 27.59)},
        "hi": {"arc": (29.37, 29.79), "hellaswag": (36.35, 36.46), "mmlu": (27.55, 27.50)},
        "zh-hans": {"arc": (37.18, 37.78), "hellaswag": (50.17, 50.77), "mmlu": (29.04, 29.47)},
    }),
}

#: our benchmark → the paper's column (both MMLU scorings are compared with the paper's one MMLU column)
PAPER_COLUMN = {"arc": "arc", "hellaswag": "hellaswag", "mmlu": "mmlu", "mmlu_fulltext": "mmlu"}
