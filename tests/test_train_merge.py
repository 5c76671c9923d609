"""Merging a LoRA adapter into the full-precision base: a dense checkpoint equal to base + scaled BA.

The QLoRA path differs only in how the adapter was trained (on a 4-bit base, which needs bitsandbytes and CUDA);
the merge contract is the same and is checked here on tiny models: the base is reloaded unquantized in the asked
dtype, the saved config has no quantization_config, every tensor is a dense float, and each merged weight is the
base weight plus the adapter's delta computed from the adapter file itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from xdetox import XdetoxError
from xdetox.data.merge import check_dense, merge_adapter

TARGETS = {
    "gpt2": ["c_attn", "c_fc"],  # Conv1D layers (weights stored transposed: fan_in_fan_out)
    "llama": ["q_proj", "down_proj", "embed_tokens"],  # Linear and Embedding, as the reference's Llama targets
}


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    out = {}
    for file in sorted(path.glob("*.safetensors")):
        with safe_open(str(file), "pt") as handle:
            out.update({k: handle.get_tensor(k) for k in handle.keys()})
    return out


def make_adapter(base: Path, family: str, out: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    # init_lora_weights=False: B is random too, so the delta is not zero and the merge has something to show
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS[family],
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    peft_model.save_pretrained(str(out))
    return out


def expected_weights(base: Path, adapter: Path, fan_in_fan_out: bool) -> dict[str, torch.Tensor]:
    """base weight + (alpha/r)·BA for every adapted module, from the two folders' files alone (float32)."""
    config = json.loads((adapter / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / config["r"]
    weights = _tensors(base)
    lora = _tensors(adapter)
    expected = {}
    for key, a in lora.items():
        if ".lora_A." in key or key.endswith(".lora_embedding_A"):
            embedding = key.endswith(".lora_embedding_A")
            b = lora[key.replace("lora_embedding_A", "lora_embedding_B") if embedding else key.replace("lora_A", "lora_B")]
            module = key.removeprefix("base_model.model.").split(".lora_")[0]
            delta = (b.double() @ a.double()) * scale
            if embedding or fan_in_fan_out:
                delta = delta.T
            expected[f"{module}.weight"] = (weights[f"{module}.weight"].double() + delta).float()
    return expected


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_merged_weights_are_base_plus_delta_in_a_dense_checkpoint(tmp_path, tiny_model_dir, family):
    base = tiny_model_dir(family)
    adapter = make_adapter(base, family, tmp_path / "adapter")
    out = merge_adapter(base, adapter, tmp_path / "merged", dtype="float32")

    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config
    assert set(check_dense(out).values()) == {"F32"}
    merged = _tensors(out)
    expected = expected_weights(base, adapter, fan_in_fan_out=family == "gpt2")
    assert expected, "the adapter adapted nothing"
    for name, weight in expected.items():
        assert torch.allclose(merged[name], weight, atol=1e-6), name
        assert not torch.allclose(merged[name], _tensors(base)[name]), f"{name}: the delta was lost"
    # every other weight is the base's, untouched
    for name, weight in _tensors(base).items():
        if name not in expected and name in merged:
            assert torch.equal(merged[name], weight), name
    assert (out / "tokenizer.json").exists() or (out / "tokenizer_config.json").exists()


def test_merged_model_computes_what_the_adapter_model_computes(tmp_path, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = tiny_model_dir("llama")
    adapter = make_adapter(base, "llama", tmp_path / "adapter")
    out = merge_adapter(base, adapter, tmp_path / "merged")
    ids = torch.randint(3, 300, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32),
                                              str(adapter))(input_ids=ids).logits
        merged = AutoModelForCausalLM.from_pretrained(str(out))(input_ids=ids).logits
    assert torch.allclose(merged, reference, atol=1e-4)


def test_bf16_merge_reloads_the_base_unquantized_in_bf16(tmp_path, tiny_model_dir):
    base = tiny_model_dir("llama")
    adapter = make_adapter(base, "llama", tmp_path / "adapter")
    out = merge_adapter(base, adapter, tmp_path / "merged", dtype="bfloat16")
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert set(check_dense(out).values()) == {"BF16"}
    merged = _tensors(out)
    for name, weight in expected_weights(base, adapter, fan_in_fan_out=False).items():
        # W is rounded to bf16 before the delta is added, and the sum once more: two bf16 roundings
        assert torch.allclose(merged[name].float(), weight, rtol=2e-2, atol=2e-3), name


def test_float32_merge_saved_as_bf16(tmp_path, tiny_model_dir):
    base = tiny_model_dir("gpt2")
    adapter = make_adapter(base, "gpt2", tmp_path / "adapter")
    out = merge_adapter(base, adapter, tmp_path / "merged", dtype="float32", save_dtype="bfloat16")
    merged = _tensors(out)
    for name, weight in expected_weights(base, adapter, fan_in_fan_out=True).items():
        # the sum is formed in float32 and rounded to bf16 once: equal to the rounded exact sum but where the float32
        # sum sits on a bf16 rounding boundary (then one bf16 step apart)
        rounded = weight.to(torch.bfloat16)
        assert (merged[name] == rounded).float().mean() > 0.99, name
        assert torch.allclose(merged[name].float(), rounded.float(), rtol=2**-7, atol=0), name


def test_quantized_base_is_refused(tmp_path, tiny_model_dir):
    base = tiny_model_dir("llama")
    adapter = make_adapter(base, "llama", tmp_path / "adapter")
    quantized = tmp_path / "base-4bit"
    shutil.copytree(base, quantized)
    config = json.loads((quantized / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (quantized / "config.json").write_text(json.dumps(config))
    with pytest.raises(XdetoxError, match="base checkpoint is quantized"):
        merge_adapter(quantized, adapter, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()
    with pytest.raises(XdetoxError, match="has a quantization_config"):
        check_dense(quantized)


def test_packed_4bit_weights_are_not_dense(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    save_file({"lm_head.weight": torch.zeros(4, 4),
               "model.layers.0.mlp.down_proj.weight": torch.zeros(8, 1, dtype=torch.uint8)},
              str(folder / "model.safetensors"))
    with pytest.raises(XdetoxError, match="down_proj.weight is U8"):
        check_dense(folder)


def test_missing_adapter_names_the_folder(tmp_path, tiny_model_dir):
    with pytest.raises(XdetoxError, match="no adapter_config.json"):
        merge_adapter(tiny_model_dir("gpt2"), tmp_path, tmp_path / "merged")
