"""Local Okapi-layout fixtures with planted answer keys (see test_capability_eval's docstring for why a planted key
gives an exact accuracy whatever the model's weights)."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ["sun", "tree", "house", "water", "moon", "bird", "stone", "river", "cloud", "fire"]
ZH_WORDS = ["太阳", "树", "房子", "水", "月亮", "鸟", "石头", "河", "云", "火"]


def nested_choices(i: int, word: str):
    """Choices " w" … " w w w w" in a per-item order; returns (choices, index of the single word)."""
    choices = [" ".join([word] * k) for k in (1, 2, 3, 4)]
    order = list(range(4))
    random.Random(i).shuffle(order)
    return [choices[k] for k in order], order.index(0)


def planted_gold(i: int, single: int, n_right: int) -> int:
    return single if i < n_right else (single + 1 + i % 3) % 4


def jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def arc_rows(n, n_right):
    rows = []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        choices, single = nested_choices(i, word)
        rows.append({"id": f"arc-{i}", "instruction": f"Which one is {word}?",
                     **{f"option_{k}": c for k, c in zip("abcd", choices)}, "option_e": None,
                     "answer": "ABCD"[planted_gold(i, single, n_right)]})
    return rows


def mmlu_rows(n, n_right):
    return [{k: v for k, v in r.items() if k not in ("option_e",)} | {"id": f"mmlu-{i}"}
            for i, r in enumerate(arc_rows(n, n_right))]


def hellaswag_zh_rows(n, n_right):
    rows = []
    for i in range(n):
        word = ZH_WORDS[i % len(ZH_WORDS)]
        choices, single = nested_choices(i, word)
        # the single word comes as a {zh, en} object whose English text is long: scored as English or as raw JSON,
        # it would no longer be the most likely ending and the planted accuracy would break
        endings = [{"zh": c, "en": "the sun is very very bright today and tomorrow"} if k == single else c
                   for k, c in enumerate(choices)]
        rows.append({"ind": i, "activity_label": "天气", "ctx_a": f"今天的{word}", "ctx_b": "", "endings": endings,
                     "label": str(planted_gold(i, single, n_right))})
    return rows


def hellaswag_vi_rows(n):
    rng = random.Random(5)
    vocab = "nắng mưa gió mây trời đất biển núi sông rừng hoa lá".split()
    rows = []
    for i in range(n):
        endings = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 4))) for _ in range(4)]
        rows.append({"activity_label": "Thời tiết", "ctx_a": f"Hôm nay {vocab[i % len(vocab)]}", "ctx_b": "",
                     "endings": endings, "label": str(i % 4)})
    return rows
