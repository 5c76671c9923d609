"""How every job loads a checkpoint: one device, dtype and thread policy, and one end-of-sequence lookup.

Generation, fluency, diversity, DPO, interpretability, retrieval and the local classifiers all load through
`load_model` / `load_tokenizer`, so "auto" means the same dtype everywhere and a job's threads are set in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import transformers

from . import XdetoxError

#: `kind` -> the transformers auto class that loads it
KINDS = {
    "causal": "AutoModelForCausalLM",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "body": "AutoModel",  # the transformer body: hidden states without the LM head
    "classifier": "AutoModelForSequenceClassification",
}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, else CUDA where there is one, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN has native bf16 kernels (AVX512-BF16 / AMX); elsewhere bf16 is emulated and slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(name: str | None, device: torch.device) -> torch.dtype | str:
    """A config dtype name as a torch dtype.

    "auto": bf16 on GPUs that support it (else fp16), bf16 on CPUs with native bf16 instructions (else fp32);
    None: the checkpoint's own dtype (transformers' "auto").
    """
    if name is None:
        return "auto"
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    return getattr(torch, name)


def set_threads(threads: int | None) -> None:
    """Torch's intra-op threads = the job's threads (Snakemake's `threads:`), so jobs never oversubscribe a node."""
    if threads:
        torch.set_num_threads(threads)


def load_tokenizer(path: str | Path, *, padding_side: str | None = None, pad_with_eos: bool = False, **kwargs):
    """The checkpoint's tokenizer; `pad_with_eos` gives a tokenizer without a pad token its EOS as pad."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), **kwargs)
    if padding_side:
        tokenizer.padding_side = padding_side
    if pad_with_eos and tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise XdetoxError(f"{path}: the tokenizer has neither a pad nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str | Path, kind: str = "causal", *, dtype: str | None, device: str | None = None,
               threads: int | None = None, training: bool = False, **kwargs: Any):
    """A `kind` model (see KINDS) in `dtype` (see resolve_dtype), on `device`, in eval mode.

    With `training=True` the model is left where transformers put it and in train mode (the trainer places it;
    a quantized model cannot be moved). Extra keyword arguments go to `from_pretrained`.
    """
    set_threads(threads)
    dev = resolve_device(device)
    auto_class = getattr(transformers, KINDS[kind])
    model = auto_class.from_pretrained(str(path), dtype=resolve_dtype(dtype, dev), **kwargs)
    if training:
        return model
    return model.to(dev).eval()


def eos_ids(tokenizer=None, model=None, model_dir: str | Path | None = None) -> set[int]:
    """The token ids that end a continuation: the tokenizer's EOS and the generation config's EOS id(s).

    The generation config is read from `model` when it is loaded, else from the checkpoint folder's
    generation_config.json and config.json (a vLLM engine does not expose it).
    """
    ids: list = []
    if model is not None:
        config = getattr(model, "generation_config", None)
        value = getattr(config, "eos_token_id", None) if config is not None else None
        ids += value if isinstance(value, (list, tuple)) else [value]
    elif model_dir is not None:
        for name in ("generation_config.json", "config.json"):
            path = Path(model_dir) / name
            if path.is_file():
                value = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
                ids += value if isinstance(value, list) else [value]
    if tokenizer is not None:
        ids.append(getattr(tokenizer, "eos_token_id", None))
    return {int(i) for i in ids if i is not None}


def pad_id(tokenizer) -> int:
    """The id padding is written with: the tokenizer's pad token, else its EOS (causal LMs often have no pad)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def left_padded(encoded: list[list[int]], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of token-id lists left-padded to the longest, so every row's last position is its own
    last token (what a decoding step continues)."""
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, e in enumerate(encoded):
        ids[row, width - len(e):] = torch.tensor(e, dtype=torch.long)
        mask[row, width - len(e):] = 1
    return ids.to(device), mask.to(device)


def adds_bos(tokenizer) -> bool:
    """True when the tokenizer itself starts an encoding with BOS (Llama, Gemma); GPT-2-style (mGPT) and BLOOM
    tokenizers do not (TransformerLens tests it the same way)."""
    bos = tokenizer.bos_token_id
    ids = tokenizer("a")["input_ids"]
    return bos is not None and len(ids) > 0 and ids[0] == bos


def bos_prefix(tokenizer) -> str:
    """Text that makes an encoding start with exactly one BOS token when the tokenizer does not add one itself ('' when
    it does). Fast tokenizers split registered special tokens out of text; without a BOS token, EOS stands in, as in
    TransformerLens."""
    if adds_bos(tokenizer):
        return ""
    return tokenizer.bos_token or tokenizer.eos_token or ""
