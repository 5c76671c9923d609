"""The `learned` scorer: the frozen encoder's pooled features through the cross-fitted heads.

A text is scored by the head of its prompt's fold (`score_prompts`). Each fold has its own scorer version (heads
sha256, encoder fingerprint, fold k of K), and the cache key is built from it, so it covers the head's content and
the fold: a retrained head or another fold never reuses a cached score. Plain `score(texts,
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
    """Head k of a learned scorer, alone: its id and version are what the cache keys on."""

    id = SCORER_ID

    def __init__(self, parent: "LearnedScorer", k: int):
        self.parent, self.k = parent, k

    @property
    def version(self) -> str:
        m = self.parent.model
        return f"heads:{m.digest[:16]}/enc:{m.encoder['fingerprint'][:16]}/fold{self.k}of{len(m.heads)}"

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        return self.parent._predict({self.k: list(range(len(texts)))}, list(texts))


class LearnedScorer(Scorer):
    """Routes each text to its prompt's fold head. With a cache, every (fold, language, text) is a cache entry; the
    texts no entry answers go through ONE encoder pass whatever their folds (small per-fold batches would waste the
    CPU), then each head scores its own rows."""

    id = SCORER_ID

    def __init__(self, heads: str | Path, encoder: str | Path, configured: Mapping | None = None,
                 batch_tokens: int = 2048, threads: int | None = None, cache=None):
        """heads: the trained artifact folder; encoder: the checkpoint it was trained on (its fingerprint must match);
        configured: config values (model.CONFIG_KEYS) the heads must have been trained with; cache: a ScoreCache
        (None: uncached; closed with the scorer)."""
        from ...io import read_json
        from .encoder import fingerprint_of

        if not Path(encoder).is_dir():
            raise ScoringError(f"learned scorer: encoder checkpoint {encoder} does not exist")
        meta = Path(heads) / "model.json"
        recorded = read_json(meta).get("encoder") if meta.is_file() else None
        self.model: LearnedHeads = load(heads, {"encoder_fingerprint": fingerprint_of(encoder, recorded)})
        wrong = self.model.mismatches(configured or {})
        if wrong:
            raise ScoringError(f"{Path(heads) / 'model.json'}: these heads were trained with other settings than "
                               f"configured ({'; '.join(wrong)}); retrain them")
        self.encoder = Encoder(encoder, self.model.features, batch_tokens=batch_tokens, threads=threads)
        self._cache = cache
        self.folds = [FoldScorer(self, k) for k in range(len(self.model.heads))]
        self.counts = {"texts": 0, "hits": 0, "misses": 0, "requests": 0, "stored": 0}

    @property
    def version(self) -> str:
        return f"heads:{self.model.digest[:16]}/enc:{self.model.encoder['fingerprint'][:16]}"

    @property
    def stats(self) -> dict:
        return dict(self.counts)

    def _predict(self, rows_by_head: dict[int, list[int]], texts: list[str]) -> list[Score]:
        x = self.encoder.features(texts)
        out: list[Score | None] = [None] * len(texts)
        for k, rows in rows_by_head.items():
            for i, t in zip(rows, self.model.heads[k].predict(x[rows])):
                out[i] = Score(toxicity=float(t))
        return out  # type: ignore[return-value]

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        if self.model.cross_fitted:
            raise ScoringError("learned scorer: its heads are cross-fitted by prompt Index; score with "
                               "score_prompts(texts, lang, prompt_ids) so each text goes to a head that never saw "
                               "its prompt")
        return self.score_prompts(texts, lang, [None] * len(texts))

    def _key(self, k: int, lang: str, text: str) -> str:
        from ..cache import cache_key

        fold = self.folds[k]
        return cache_key(fold.id, fold.version, fold.attributes, lang, text)

    def score_prompts(self, texts: Sequence[str], lang: str, prompt_ids: Sequence[str | None]) -> list[Score]:
        if len(prompt_ids) != len(texts):
            raise ScoringError(f"learned scorer: {len(prompt_ids)} prompt ids for {len(texts)} texts")
        heads = [self.model.head_index(None if pid is None else str(pid)) for pid in prompt_ids]
        keys = [self._key(k, lang, t) for k, t in zip(heads, texts)] if self._cache is not None else \
            [f"{k}:{i}" for i, k in enumerate(heads)]
        known = self._cache.get_many(list(dict.fromkeys(keys))) if self._cache is not None else {}
        todo: dict[str, tuple[int, str]] = {}
        for key, k, text in zip(keys, heads, texts):
            if key not in known:
                todo.setdefault(key, (k, text))
        self.counts["texts"] += len(texts)
        self.counts["hits"] += len(set(keys) & set(known))
        self.counts["misses"] += len(todo)
        if todo:
            items = list(todo.items())
            rows_by_head: dict[int, list[int]] = {}
            for row, (_, (k, _)) in enumerate(items):
                rows_by_head.setdefault(k, []).append(row)
            scores = self._predict(rows_by_head, [text for _, (_, text) in items])
            self.counts["requests"] += len(items)
            fresh = {key: s for (key, _), s in zip(items, scores)}
            if self._cache is not None:
                for k, rows in rows_by_head.items():
                    self._cache.put_many({items[r][0]: scores[r] for r in rows}, scorer=SCORER_ID,
                                         version=self.folds[k].version, lang=lang)
                self.counts["stored"] += len(fresh)
            known.update(fresh)
        return [known[key] for key in keys]

    def seed_cache(self) -> int:
        """Store the artifact's out-of-fold scores of its training prompts in the cache (under each fold's key), so
        validating on those prompts costs no encoder pass. Returns how many were stored (0 without a cache)."""
        if self._cache is None or not self.model.oof:
            return 0
        by_fold_lang: dict[tuple[int, str], dict[str, Score]] = {}
        for rec in self.model.oof:
            k = int(rec["fold"])
            key = self._key(k, rec["lang"], rec["text"])
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
             "rating": e.human if e.human is not None else e.rating}
            for e, s, k in zip(examples, oof, fold) if e.prompt_id is not None and k >= 0]
