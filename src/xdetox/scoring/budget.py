"""Plan-time cost of the remote scorer (Perspective API): requests, and time at the configured rate.

At the paper's scale Perspective is ~9.6M requests, ~111 days at the default 1 request/s, for an API that stops at the
end of 2026, so the workflow says so before any job runs and refuses a plan over `scoring.perspective.budget_hours`
unless `over_budget: warn`. Parse-time code: no I/O beyond counting lines of a user's prompt files, no torch.

The count is an upper bound: score files that exist cost nothing, but texts already in the score cache (identical
(language, text) pairs) cannot be known before generation and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .. import XdetoxError

#: prompts per language of each RTP-LX release (counted with xdetox.data.prompts.load_rtplx; the paper's 17 languages)
RTPLX_PROMPTS = {
    "v1x": {"ar": 1050, "cs": 1038, "de": 1029, "en": 999, "es": 1098, "fr": 1038, "hi": 1115, "id": 1099,
            "it": 1113, "ja": 1070, "ko": 1099, "nl": 1075, "pl": 1099, "pt": 1095, "ru": 1225, "sv": 1049,
            "zh-hans": 1034},
    "v0.2": {"ar": 1051, "cs": 1038, "de": 1029, "en": 999, "es": 1098, "fr": 1038, "hi": 1115, "id": 1099,
             "it": 1113, "ja": 1070, "ko": 1099, "nl": 1075, "pl": 1099, "pt": 1095, "ru": 1225, "sv": 1049,
             "zh-hans": 1036},
}


@dataclass(frozen=True)
class RemoteCost:
    scorer: str
    jobs: int  # score jobs that will call the service
    done: int  # score jobs whose output already exists (no requests)
    requests: int
    rate: float  # requests per second

    @property
    def hours(self) -> float:
        return self.requests / self.rate / 3600


def prompts_per_language(release: str, lang: str, max_prompts: int | None, counted: int | None = None) -> int:
    """Prompts of one language the plan samples: `counted` (a user's prompt file) or the release's count, capped."""
    n = counted if counted is not None else RTPLX_PROMPTS.get(release, {}).get(lang)
    if n is None:
        raise XdetoxError(f"config key data.prompts.release: no prompt count known for {release!r} / {lang!r}")
    return n if max_prompts is None else min(n, max_prompts)


def estimate(scorer: str, jobs: Iterable[tuple[int, bool]], rate: float) -> RemoteCost:
    """`jobs`: (requests of one job, its output exists already) for every job that scores with `scorer`."""
    todo = done = requests = 0
    for n, exists in jobs:
        if exists:
            done += 1
        else:
            todo += 1
            requests += n
    return RemoteCost(scorer, todo, done, requests, rate)


def describe(cost: RemoteCost, rate_key: str) -> str:
    days = cost.hours / 24
    span = f"{days:,.1f} days" if days >= 1 else f"{cost.hours:,.1f} hours"
    return (f"{cost.scorer}: {cost.requests:,} requests in {cost.jobs} job(s) ({cost.done} already done) "
            f"≈ {span} at {cost.rate:g} request(s)/s ({rate_key})")


def over_budget(cost: RemoteCost, budget_hours: float) -> bool:
    return cost.hours > budget_hours


def budget_message(cost: RemoteCost, budget_hours: float, section: str) -> str:
    return (f"config key {section}.budget_hours: the plan needs {cost.hours:,.1f} h of {cost.scorer} requests, over "
            f"the budget of {budget_hours:g} h. Raise {section}.rate to your quota, cap "
            "data.prompts.max_prompts_per_lang, drop stages, raise the budget, or go on anyway with "
            f"--config 'scoring={{\"{section.split('.')[-1]}\": {{\"over_budget\": \"warn\"}}}}' "
            f"({section}.over_budget)")
