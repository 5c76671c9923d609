"""The `learned` scorer: the frozen encoder's pooled features through the cross-fitted heads.

A text is scored by the head of its prompt's fold (`score_prompts`). Each fold is its own Scorer (`FoldScorer`) with
version = (heads sha256, encoder fingerprint, fold k of K), so the score cache in front of each fold keys on the
head's content and the fold: a retrained head or another fold never reuses a cached score. Plain `score(texts,
lang)` works only for an artifact with a single head (no prompt labels, or K < 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..base import Score, Scorer, ScoringError
from .encoder import Encoder
from .model import LearnedHeads, load

SCORER_ID = "learned"


class FoldScorer(Scorer):
    """Head k of a learned scorer, alone; what the cache sees."""

    id = SCORER_ID

    def __init__(self, parent: "LearnedScorer", k: int):
        self.parent, self.k = parent, k

    @property
    def version(self) -> str:
        m = self.parent.model
        return f"heads:{m.digest[:16]}/enc:{m.encoder['fingerprint'][:16]}/fold{self.k}of{len(m.heads)}"

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        head = self.parent.model.heads[self.k]
        toxicity = head.predict(self.parent.encoder.features(list(texts)))
        return [Score(toxicity=float(t)) for t in toxicity]


class LearnedScorer(Scorer):
    id = SCORER_ID

    def __init__(self, heads: str | Path, encoder: str | Path, configured: Mapping | None = None,
                 batch_tokens: int = 2048, threads: int | None = None, cache=None):
        """heads: the trained artifact folder; encoder: the checkpoint it was trained on (its fingerprint must match);
        configured: config values (model.CONFIG_KEYS) the heads must have been trained with; cache: a ScoreCache to
        put in front of each fold (None: uncached; closed with the scorer)."""
        from .encoder import checkpoint_fingerprint

        if not Path(encoder).is_dir():
            raise ScoringError(f"learned scorer: encoder checkpoint {encoder} does not exist")
        self.model: LearnedHeads = load(heads, {"encoder_fingerprint": checkpoint_fingerprint(encoder)})
        wrong = self.model.mismatches(configured or {})
        if wrong:
            raise ScoringError(f"{Path(heads) / 'model.json'}: these heads were trained with other settings than "
                               f"configured ({'; '.join(wrong)}); retrain them")
        self.encoder = Encoder(encoder, self.model.features, batch_tokens=batch_tokens, threads=threads)
        self._cache = cache
        self.folds: list[Scorer] = []
        for k in range(len(self.model.heads)):
            fold = FoldScorer(self, k)
            if cache is not None:
                from ..cache import CachedScorer

                fold = CachedScorer(fold, cache)
            self.folds.append(fold)

    @property
    def version(self) -> str:
        return f"heads:{self.model.digest[:16]}/enc:{self.model.encoder['fingerprint'][:16]}"

    @property
    def stats(self) -> dict:
        total: dict = {}
        for fold in self.folds:
            for key, value in getattr(fold, "stats", {}).items():
                total[key] = total.get(key, 0) + value
        return total

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        if self.model.cross_fitted:
            raise ScoringError("learned scorer: its heads are cross-fitted by prompt Index; score with "
                               "score_prompts(texts, lang, prompt_ids) so each text goes to a head that never saw "
                               "its prompt")
        return self.folds[0].score(texts, lang)

    def score_prompts(self, texts: Sequence[str], lang: str, prompt_ids: Sequence[str | None]) -> list[Score]:
        if len(prompt_ids) != len(texts):
            raise ScoringError(f"learned scorer: {len(prompt_ids)} prompt ids for {len(texts)} texts")
        by_head: dict[int, list[int]] = {}
        for i, pid in enumerate(prompt_ids):
            by_head.setdefault(self.model.head_index(None if pid is None else str(pid)), []).append(i)
        out: list[Score | None] = [None] * len(texts)
        for k, indices in sorted(by_head.items()):
            for i, s in zip(indices, self.folds[k].score([texts[i] for i in indices], lang)):
                out[i] = s
        return out  # type: ignore[return-value]

    def seed_cache(self) -> int:
        """Store the artifact's out-of-fold scores of its training prompts in the cache (under each fold's key), so
        validating on those prompts costs no encoder pass. Returns how many were stored (0 without a cache)."""
        if self._cache is None or not self.model.oof:
            return 0
        from ..cache import cache_key

        by_fold_lang: dict[tuple[int, str], dict[str, Score]] = {}
        for rec in self.model.oof:
            k = int(rec["fold"])
            fold = self.folds[k]
            key = cache_key(fold.id, fold.version, fold.attributes, rec["lang"], rec["text"])
            by_fold_lang.setdefault((k, rec["lang"]), {})[key] = Score(toxicity=float(rec["score"]))
        n = 0
        for (k, lang), scores in by_fold_lang.items():
            self._cache.put_many(scores, scorer=SCORER_ID, version=self.folds[k].version, lang=lang)
            n += len(scores)
        return n

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()


def oof_records(examples, oof: np.ndarray, fold: np.ndarray) -> list[dict]:
    """The out-of-fold scores of the prompt-labelled training examples, as stored in the artifact."""
    return [{"lang": e.lang, "prompt_id": str(e.prompt_id), "text": e.text, "score": float(s), "fold": int(k),
             "rating": e.rating}
            for e, s, k in zip(examples, oof, fold) if e.prompt_id is not None and k >= 0]
