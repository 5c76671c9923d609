"""A local toxicity classifier: any transformers sequence-classification model, by local path or hub id.

The multilingual choice is ``textdetox/xlmr-large-toxicity-classifier-v2`` (XLM-R large fine-tuned by the TextDetox
shared task on textdetox/multilingual_toxicity_dataset, 14 languages; class 1 = toxic, so the default
``toxic_label: 1`` fits — check the checkpoint's ``id2label`` once if you pin another revision).
It is not Perspective: use it as an offline stand-in or a second opinion (see agreement.py), never mixed into the
same table.

Toxicity = P(toxic label): softmax over the labels, or a sigmoid for multi-label models.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Sequence

import torch
from transformers import AutoConfig

from .. import models
from ..cache import files_digest
from .base import Score, Scorer, ScoringError
from .labels import ClassifierLabelError, resolve_label  # noqa: F401 (ClassifierLabelError: part of this API)

log = logging.getLogger("xdetox.scoring")

MULTILINGUAL_MODEL = "textdetox/xlmr-large-toxicity-classifier-v2"


class HFClassifierScorer(Scorer):
    id = "hf-classifier"

    def __init__(self, model: str, toxic_label: str | int = 1, batch_size: int = 32, max_length: int = 256,
                 device: str | None = None, revision: str | None = None, dtype: str | None = None):
        """`revision`: the hub commit (or tag) to load, part of the cache key; `dtype`: None keeps the checkpoint's
        own (as a classifier is published), else float32 / bfloat16 / float16 — also part of the key, since the
        probabilities change with it."""
        if not model:
            raise ScoringError("config key scoring.hf_classifier.model: give a local path or hub id, e.g. "
                               f"{MULTILINGUAL_MODEL}")
        self.model_name = str(model)
        self.revision = revision
        self.dtype = dtype
        if dtype is not None and dtype not in ("float32", "bfloat16", "float16"):
            raise ScoringError(f"config key scoring.hf_classifier.dtype: {dtype!r}; use float32, bfloat16, float16 "
                               "or null (the checkpoint's own)")
        if int(max_length) < 1:
            raise ScoringError(f"config key scoring.hf_classifier.max_length: must be ≥ 1, got {max_length}")
        try:
            self.config = AutoConfig.from_pretrained(self.model_name, revision=revision)
        except (OSError, ValueError) as err:
            raise ScoringError(f"config key scoring.hf_classifier.model: cannot load {self.model_name!r}: "
                               f"{str(err).splitlines()[0]}") from None
        self.toxic_index = resolve_label(self.config.id2label, toxic_label, self.model_name)
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.device = str(models.resolve_device(device))
        self._model = None
        self._tokenizer = None

    def __repr__(self) -> str:
        return f"HFClassifierScorer(model={self.model_name!r}, toxic_label={self.toxic_index})"

    @cached_property
    def version(self) -> str:
        parts = [self.model_name]
        name_or_path = getattr(self.config, "_name_or_path", "") or ""
        if name_or_path and name_or_path != self.model_name:
            parts.append(name_or_path)
        commit = getattr(self.config, "_commit_hash", None)
        if commit:
            parts.append(f"commit:{commit}")
        local = Path(self.model_name)
        if local.is_dir():
            weights = sorted(p for p in local.iterdir() if p.suffix in {".safetensors", ".bin", ".pt"} and p.is_file())
            # a retrained model saved at the same path gets a new version
            parts.append(f"weights:{files_digest(weights)[:16]}")
        if self.revision:
            parts.append(f"revision:{self.revision}")
        # what changes the probabilities: the label read, how much of a text is seen, the numeric precision
        parts += [f"label:{self.toxic_index}", f"max_length:{self.max_length}", f"dtype:{self.dtype or 'checkpoint'}"]
        return "|".join(parts)

    def _load(self):
        if self._model is None:
            log.info("hf-classifier: loading %s on %s", self.model_name, self.device)
            self._tokenizer = models.load_tokenizer(self.model_name, revision=self.revision)
            # dtype None: the checkpoint's own, as a classifier is published
            self._model = models.load_model(self.model_name, "classifier", dtype=self.dtype, device=self.device,
                                            revision=self.revision)
        return self._model, self._tokenizer

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        model, tokenizer = self._load()
        multi_label = getattr(self.config, "problem_type", None) == "multi_label_classification"
        # longest first, so each batch pads to similar lengths; results go back to the callers' order
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        values: list[float] = [0.0] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                # an empty continuation is sent as " " (as to Perspective): some tokenizers add no special tokens,
                # and a zero-length row cannot go through the model
                inputs = tokenizer([texts[i] or " " for i in batch], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
                empty = (inputs["attention_mask"].sum(dim=1) == 0).nonzero().flatten().tolist()
                if empty:
                    raise ScoringError(f"hf-classifier {self.model_name}: text {texts[batch[empty[0]]][:60]!r} "
                                       f"(lang {lang!r}) tokenizes to nothing")
                logits = model(**inputs).logits.float()
                probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
                for i, p in zip(batch, probs[:, self.toxic_index].tolist()):
                    values[i] = p
        return [Score(toxicity=v, attributes={"TOXICITY": v}) for v in values]

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
