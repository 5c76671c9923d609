"""A (Q)LoRA adapter merged into its base model's full-precision weights: a dense checkpoint any backend can load.

Merging into the 4-bit model that QLoRA trained does not give that. PEFT dequantises each 4-bit weight, adds the
LoRA delta and quantises the sum again (peft/tuners/lora/bnb.py, `Linear4bit.merge`), so most of a small DPO delta
is rounded away; the saved folder is still a bitsandbytes checkpoint (`quantization_config` in config.json), which
vLLM 0.33 cannot load (it has no bitsandbytes method). The reference merges into the base loaded anew in full
precision (xg/training/merge_peft.py: `AutoModelForCausalLM.from_pretrained(base)`, `PeftModel.from_pretrained`,
`merge_and_unload`, `save_pretrained`), and so does `merge_adapter`.

`dtype` is the precision the sum W + BA·(alpha/r) is formed in. The reference formed it in float32 (transformers 4.41
loaded float32 by default); transformers 5 loads a checkpoint's own dtype unless told, so the dtype is always explicit
here. `save_dtype` casts the merged weights for saving (vLLM runs a float32 checkpoint in bf16 anyway).
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

from .. import XdetoxError
from ..io import atomic_dir

log = logging.getLogger("xdetox.train")

#: safetensors dtypes of dense floating-point weights
DENSE_DTYPES = {"F64", "F32", "F16", "BF16"}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "spiece.model")


def _config(folder: Path) -> dict:
    path = folder / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XdetoxError(f"{path}: not found (not a transformers checkpoint folder)") from None
    except json.JSONDecodeError as err:
        raise XdetoxError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None


def _safetensors_header(path: Path) -> dict:
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        return json.loads(handle.read(size))


def check_dense(folder: str | Path) -> dict[str, str]:
    """Raise unless `folder` is a dense checkpoint (no quantization_config, only float tensors); name → dtype."""
    folder = Path(folder)
    quant = _config(folder).get("quantization_config")
    if quant:
        raise XdetoxError(f"{folder / 'config.json'}: has a quantization_config "
                          f"({quant.get('quant_method', 'unknown method')}): not a dense checkpoint")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise XdetoxError(f"{folder}: no *.safetensors weights")
    dtypes: dict[str, str] = {}
    for file in files:
        for name, meta in _safetensors_header(file).items():
            if name == "__metadata__":
                continue
            if meta["dtype"] not in DENSE_DTYPES:
                raise XdetoxError(f"{file}: tensor {name} is {meta['dtype']}, not a dense float (a quantized weight?)")
            dtypes[name] = meta["dtype"]
    return dtypes


def merge_adapter(base_dir: str | Path, adapter_dir: str | Path, out_dir: str | Path, dtype: str = "float32",
                  save_dtype: str | None = None, tokenizer_dir: str | Path | None = None) -> Path:
    """Load the base unquantized in `dtype`, apply the adapter, merge, save a dense checkpoint to `out_dir`.

    The tokenizer is the adapter folder's if it has one (the trainer saves it there), else the base's.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir, adapter_dir = Path(base_dir), Path(adapter_dir)
    quant = _config(base_dir).get("quantization_config")
    if quant:
        raise XdetoxError(f"{base_dir / 'config.json'}: the base checkpoint is quantized "
                          f"({quant.get('quant_method', 'unknown method')}); merging needs its full-precision weights")
    if not (adapter_dir / "adapter_config.json").is_file():
        raise XdetoxError(f"{adapter_dir}: no adapter_config.json (not a PEFT adapter folder)")
    for name in (dtype, save_dtype):
        if name is not None and not isinstance(getattr(torch, name, None), torch.dtype):
            raise XdetoxError(f"unknown dtype {name!r}; use float32, bfloat16 or float16")
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=getattr(torch, dtype))
    model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    # safe_merge: a NaN/inf in the adapter stops here instead of poisoning every later number
    merged = model.merge_and_unload(safe_merge=True)
    if save_dtype is not None:
        merged = merged.to(getattr(torch, save_dtype))
    if getattr(merged.config, "quantization_config", None) is not None:
        del merged.config.quantization_config
    if tokenizer_dir is None:
        tokenizer_dir = adapter_dir if any((adapter_dir / f).exists() for f in _TOKENIZER_FILES) else base_dir
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        merged.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        check_dense(tmp)
    log.info("merged adapter %s into %s (%s) -> %s", adapter_dir, base_dir, dtype, out_dir)
    return out_dir
