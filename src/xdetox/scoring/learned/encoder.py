"""Pooled hidden states of a frozen local checkpoint (causal LM or encoder), truncated to the layers it needs.

Layer l is the residual stream after block l (layer 0: the embedding output), read with forward hooks on the
model's block list, so it is the same vector whether or not the model is truncated after it (the `hidden_states` a
model returns end with its final norm applied, which would change layer l's meaning with the truncation point).
Blocks after the deepest requested layer are never built, so the encoder costs that fraction of a forward pass.

Pooling over the text's tokens, leaving out special tokens (BOS, CLS, SEP: a decoder's BOS state is a huge-norm
attention sink identical for every text, it would swamp a mean): `mean`, `max`, `mean+max` (both, concatenated) or
`last` (the last token). Several layers are concatenated in the order given.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..base import ScoringError

log = logging.getLogger("xdetox.scoring")

POOLINGS = ("mean", "max", "mean+max", "last")
PRECISIONS = ("float32", "int8")


@dataclass(frozen=True)
class FeatureSpec:
    layers: tuple[int, ...] = (6,)
    pooling: str = "mean"
    max_length: int = 128
    #: "float32", or "int8": the blocks' linear layers dynamically quantised to int8 (≈1.5× faster on CPU, the
    #: features change slightly, so heads are trained and used with the same precision)
    precision: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(int(x) for x in self.layers))
        if not self.layers or any(layer < 0 for layer in self.layers):
            raise ScoringError(f"learned scorer: layers must be a non-empty list of layer numbers ≥ 0, "
                               f"got {list(self.layers)}")
        if self.pooling not in POOLINGS:
            raise ScoringError(f"learned scorer: unknown pooling {self.pooling!r}; choose from {', '.join(POOLINGS)}")
        if self.precision not in PRECISIONS:
            raise ScoringError(f"learned scorer: unknown precision {self.precision!r}; choose from "
                               f"{', '.join(PRECISIONS)}")
        if self.max_length < 2:
            raise ScoringError(f"learned scorer: max_length must be ≥ 2, got {self.max_length}")

    def to_dict(self) -> dict:
        return {**asdict(self), "layers": list(self.layers)}


def checkpoint_fingerprint(path: str | Path) -> str:
    """sha256 over the checkpoint's config and weight files (names and bytes): a head is tied to exactly these."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.is_file() and (
        p.name == "config.json" or p.suffix in (".safetensors", ".bin") or p.name.startswith("tokenizer")))
    if not any(p.name == "config.json" for p in files):
        raise ScoringError(f"{path}: not a model checkpoint (no config.json)")
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.name.encode() + b"\0")
        with open(p, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def _block_list(model, n_blocks: int):
    """The ModuleList of transformer blocks: the largest ModuleList with one entry per configured layer."""
    import torch

    candidates = [m for _, m in model.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n_blocks]
    if not candidates:
        raise ScoringError(f"learned scorer: cannot find the {n_blocks} transformer blocks of {type(model).__name__}")
    return max(candidates, key=lambda m: sum(p.numel() for p in m.parameters()))


class Encoder:
    """Features of texts from a frozen checkpoint; `features(texts)` → float32 array [n, dim]."""

    def __init__(self, path: str | Path, spec: FeatureSpec, batch_tokens: int = 2048, threads: int | None = None):
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise ScoringError(f"learned scorer: encoder checkpoint {self.path} does not exist or has no config.json")
        self.spec = spec
        self.batch_tokens = batch_tokens
        self.threads = threads
        self._model = None

    def _load(self):
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        config = AutoConfig.from_pretrained(self.path)
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        total = text_config.num_hidden_layers
        deepest = max(self.spec.layers)
        if deepest > total:
            raise ScoringError(f"learned scorer: layer {deepest} requested but {self.path} has {total} layers")
        keep = max(deepest, 1)
        text_config.num_hidden_layers = keep
        if isinstance(getattr(text_config, "layer_types", None), list):
            text_config.layer_types = text_config.layer_types[:keep]
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the blocks left out on purpose would be reported as unexpected weights
        try:
            model = AutoModel.from_pretrained(self.path, config=config, dtype=torch.float32)
        finally:
            hf_logging.set_verbosity(level)
        model.eval()
        if self.spec.precision == "int8":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao's deprecation notice; the API is still the fast CPU path
                torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        self._blocks = _block_list(model, keep)
        self._special = set(self._tokenizer.all_special_ids)
        pad = self._tokenizer.pad_token_id
        self._pad = pad if pad is not None else (self._tokenizer.eos_token_id or 0)
        # a tokenizer that adds no BOS encodes "" as nothing: such a text is read as one BOS (or EOS) token
        bos = self._tokenizer.bos_token_id
        self._empty = bos if bos is not None else (self._tokenizer.eos_token_id or self._pad)
        self._model = model
        self.hidden_size = text_config.hidden_size
        log.info("learned scorer: encoder %s truncated to %d of %d layers", self.path, keep, total)

    @property
    def dim(self) -> int:
        if self._model is None:
            self._load()
        per_layer = self.hidden_size * (2 if self.spec.pooling == "mean+max" else 1)
        return per_layer * len(self.spec.layers)

    def features(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = [self._tokenizer(t, truncation=True, max_length=self.spec.max_length)["input_ids"] or [self._empty]
                   for t in texts]
        lengths = np.array([len(e) for e in encoded])
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        captured: dict[int, "torch.Tensor"] = {}

        def capture(index):
            def hook(module, args, output):
                captured[index] = output[0] if isinstance(output, tuple) else output
            return hook

        def capture_input(module, args, kwargs):
            captured[0] = args[0] if args else kwargs["hidden_states"]

        handles = [self._blocks[i - 1].register_forward_hook(capture(i)) for i in set(self.spec.layers) if i > 0]
        if 0 in self.spec.layers:
            handles.append(self._blocks[0].register_forward_pre_hook(capture_input, with_kwargs=True))
        try:
            with torch.inference_mode():
                start = 0
                while start < len(order):
                    stop = start + 1
                    while stop < len(order) and (stop - start + 1) * lengths[order[stop]] <= self.batch_tokens:
                        stop += 1
                    batch = order[start:stop]
                    out[batch] = self._batch([encoded[i] for i in batch], captured)
                    start = stop
        finally:
            for h in handles:
                h.remove()
        return out

    def _batch(self, ids_list: list[list[int]], captured: dict) -> np.ndarray:
        import torch

        width = max(len(ids) for ids in ids_list)
        ids = torch.full((len(ids_list), width), self._pad, dtype=torch.long)
        attention = torch.zeros((len(ids_list), width), dtype=torch.long)
        for row, seq in enumerate(ids_list):  # right padding: positions of real tokens start at 0
            ids[row, : len(seq)] = torch.tensor(seq)
            attention[row, : len(seq)] = 1
        pool = attention.clone()
        for special in self._special:
            pool[ids == special] = 0
        # a text of special tokens only (an empty continuation) pools its special tokens rather than nothing
        empty = pool.sum(1) == 0
        pool[empty] = attention[empty]
        captured.clear()
        self._model(input_ids=ids, attention_mask=attention, use_cache=False)
        weights = pool.unsqueeze(-1).float()
        last = (pool * torch.arange(width)).argmax(1)
        parts = []
        for layer in self.spec.layers:
            h = captured[layer].float()
            if self.spec.pooling in ("mean", "mean+max"):
                parts.append((h * weights).sum(1) / weights.sum(1))
            if self.spec.pooling in ("max", "mean+max"):
                parts.append(h.masked_fill(weights == 0, float("-inf")).max(1).values)
            if self.spec.pooling == "last":
                parts.append(h[torch.arange(len(ids_list)), last])
        return torch.cat(parts, dim=1).numpy()


def describe(path: str | Path) -> dict:
    """What a head records about its encoder: the path (informational), the checkpoint's content fingerprint, and its
    files' sizes and times (`stat`), which let a scorer skip re-hashing the unchanged checkpoint (see fingerprint_of)."""
    from ...cache import model_fingerprint

    config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    return {"path": str(path), "model_type": config.get("model_type", ""), "fingerprint": checkpoint_fingerprint(path),
            "stat": model_fingerprint(path)}


def fingerprint_of(path: str | Path, recorded: dict | None = None) -> str:
    """The content fingerprint of the checkpoint at `path`. Hashing a 1 GB checkpoint costs ~6 CPU-seconds, paid by
    every score job; when its files have exactly the sizes and times `recorded` (describe() at training) they are the
    files that were hashed then, so the recorded fingerprint is returned. Anything else (moved, copied, re-converted)
    is hashed again: the same bytes elsewhere still match, other bytes do not."""
    from ...cache import model_fingerprint

    if recorded and recorded.get("stat") and recorded.get("path") == str(path) \
            and recorded["stat"] == model_fingerprint(path):
        return recorded["fingerprint"]
    return checkpoint_fingerprint(path)
