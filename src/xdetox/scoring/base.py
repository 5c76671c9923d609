"""The Scorer interface and the scoring of a generations file (file contract: scores).

A scorer maps texts in one language to a toxicity in [0, 1] plus any other attributes it measures. It never returns
a made-up number: a text it cannot score raises ScoringError naming the text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .. import XdetoxError


class ScoringError(XdetoxError):
    """A text could not be scored."""


@dataclass(frozen=True)
class Score:
    toxicity: float
    attributes: dict[str, float] = field(default_factory=dict)


class Scorer(ABC):
    #: short id used in paths and the cache key, e.g. "lexicon"
    id: str = ""

    @property
    @abstractmethod
    def version(self) -> str:
        """Identifies the scoring model/data, so cached scores of another version are never reused."""

    @property
    def attributes(self) -> tuple[str, ...]:
        return ("TOXICITY",)

    #: True when iter_score yields each result as soon as it exists (a remote API), so a cache in front of it should
    #: hand over all misses at once and store each result as it arrives rather than chunk by chunk.
    streams_results: bool = False

    @abstractmethod
    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        """Score texts written in `lang` (an ISO code of languages.PAPER_LANGUAGES)."""

    def score_prompts(self, texts: Sequence[str], lang: str, prompt_ids: Sequence[str | None]) -> list[Score]:
        """Score texts whose prompts have ids `prompt_ids` (same order: a prompt or a continuation of it).

        Only a scorer trained on prompt labels needs the ids: the learned scorer, cross-fitted by prompt, sends each
        text to a head that never saw its prompt. Every other scorer ignores them.
        """
        return self.score(texts, lang)

    def iter_score(self, texts: Sequence[str], lang: str) -> Iterator[tuple[int, Score]]:
        """Yield (index into texts, score) as results become available, in any order.

        Scorers that talk to a remote service override this so that a caller can persist every result the moment it
        arrives; a text that cannot be scored is raised as ScoringError after the others have been yielded.
        """
        yield from enumerate(self.score(texts, lang))

    def close(self) -> None:  # pragma: no cover - most scorers hold nothing
        pass


def score_records(generations: Sequence[dict], scorer: Scorer) -> list[dict]:
    """Score each generation's continuation (not the prompt, as the reference does) → score records, same order."""
    by_lang: dict[str, list[int]] = {}
    for i, record in enumerate(generations):
        by_lang.setdefault(record["lang"], []).append(i)
    results: list[Score | None] = [None] * len(generations)
    for lang, indices in by_lang.items():
        scores = scorer.score_prompts([generations[i]["text"] for i in indices], lang,
                                      [str(generations[i]["prompt_id"]) for i in indices])
        if len(scores) != len(indices):
            raise ScoringError(f"scorer {scorer.id} returned {len(scores)} scores for {len(indices)} texts")
        for i, s in zip(indices, scores):
            results[i] = s
    return [
        {
            "prompt_id": g["prompt_id"],
            "sample": g["sample"],
            "scorer": scorer.id,
            "toxicity": s.toxicity,
            # sorted, so a score served from the cache writes the same bytes as the fresh answer it came from
            "attributes": dict(sorted(s.attributes.items())),
        }
        for g, s in zip(generations, results)
    ]
