"""Detoxify (Hanu & Unitary, 2020) from a local checkpoint: an optional extra, `pip install 'xdetox[detoxify]'`.

The multilingual model (XLM-R, Jigsaw multilingual data) is the one that fits this paper's languages. Detoxify's
`predict` reports one sigmoid probability per class; all are kept as attributes (upper-cased, Perspective style) and
its `toxicity` class is the toxicity. Without a checkpoint, Detoxify downloads its released one for `model_type`;
offline, also give `huggingface_config_path` (a folder with the base model's config and tokenizer), since Detoxify
otherwise fetches those from the hub.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Sequence

from .. import models
from ..cache import file_sha256
from .base import Score, Scorer, ScoringError

log = logging.getLogger("xdetox.scoring")

INSTALL_HINT = "pip install 'xdetox[detoxify]'"


def import_detoxify():
    try:
        import detoxify
    except ImportError as err:
        raise ScoringError(f"scorer detoxify needs the optional package detoxify==0.5.2: {INSTALL_HINT} "
                           f"({err})") from None
    return detoxify


class DetoxifyScorer(Scorer):
    id = "detoxify"

    def __init__(self, checkpoint: str | None = None, model_type: str = "multilingual", batch_size: int = 32,
                 device: str | None = None, huggingface_config_path: str | None = None):
        self.module = import_detoxify()
        self.checkpoint = Path(checkpoint) if checkpoint else None
        if self.checkpoint is not None and not self.checkpoint.is_file():
            raise ScoringError(f"config key scoring.detoxify.checkpoint: {self.checkpoint}: file not found")
        self.model_type = model_type
        self.batch_size = int(batch_size)
        self.device = str(models.resolve_device(device))
        self.huggingface_config_path = huggingface_config_path
        self._model = None

    def __repr__(self) -> str:
        return f"DetoxifyScorer(checkpoint={str(self.checkpoint)!r}, model_type={self.model_type!r})"

    @cached_property
    def version(self) -> str:
        try:
            from importlib.metadata import version as package_version

            package = package_version("detoxify")
        except Exception:  # a vendored or stand-in module has no distribution metadata
            package = getattr(self.module, "__version__", "unknown")
        if self.checkpoint is not None:
            weights = f"ckpt:{file_sha256(self.checkpoint)[:16]}"
        else:  # the released checkpoint's file name carries its hash
            urls = getattr(self.module, "MODEL_URLS", None) or getattr(
                getattr(self.module, "detoxify", None), "MODEL_URLS", {})
            weights = f"release:{str(urls.get(self.model_type, self.model_type)).rsplit('/', 1)[-1]}"
        return f"detoxify=={package}|{self.model_type}|{weights}"

    def _load(self):
        if self._model is None:
            kwargs = {"model_type": self.model_type, "device": self.device}
            if self.checkpoint is not None:
                kwargs["checkpoint"] = str(self.checkpoint)
            if self.huggingface_config_path:
                kwargs["huggingface_config_path"] = str(self.huggingface_config_path)
            log.info("detoxify: loading %s", kwargs)
            self._model = self.module.Detoxify(**kwargs)
        return self._model

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        model = self._load()
        out: list[Score] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            # Detoxify pads a whole list in one tensor, so we feed it batch by batch
            results = model.predict(batch)
            if "toxicity" not in results:
                raise ScoringError(f"detoxify model {self.model_type} reports no 'toxicity' class "
                                   f"(classes: {sorted(results)})")
            for j in range(len(batch)):
                attributes = {name.upper(): float(values[j]) for name, values in results.items()}
                out.append(Score(toxicity=attributes["TOXICITY"], attributes=attributes))
        return out

    def close(self) -> None:
        self._model = None
