"""A published DPO checkpoint as a model's dpo stage (models.<m>.dpo_source): nothing is trained."""

from __future__ import annotations

import json
import shutil

import pytest

from xdetox import XdetoxError
from xdetox.data.checkpoints import prepare_published_dpo
from helpers import planned_outputs, snakemake, tiny_workflow_config, write_config, job_counts


def test_dense_checkpoint_is_copied_and_a_quantized_one_refused(tmp_path, tiny_model_dir):
    src = tiny_model_dir("gpt2")
    out = prepare_published_dpo({"path": str(src)}, src, tmp_path / "out")
    assert (out / "config.json").is_file()
    quant = tmp_path / "quant"
    shutil.copytree(src, quant)
    cfg = json.loads((quant / "config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (quant / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(XdetoxError, match="quantization_config|quantized"):
        prepare_published_dpo({"path": str(quant)}, src, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


@pytest.mark.slow
def test_plan_trains_nothing_and_generates_from_the_published_folder(tmp_path, tiny_model_dir, shared_data):
    published = tiny_model_dir("llama")
    cfg = tiny_workflow_config(tiny_model_dir("gpt2"), shared_data, langs=("en",))
    cfg["models"]["tiny"]["dpo_source"] = {"path": str(published)}
    cfg["models"]["tiny"].pop("dpo")
    write_config(tmp_path / "config.yaml", cfg)
    dry = snakemake(tmp_path, "-n", "--cores", "1")
    counts = job_counts(dry.stdout + dry.stderr)
    assert "dpo" not in counts and "pairs" not in counts and counts["generate"] == 2
    assert str(published) in dry.stdout + dry.stderr  # the dpo stage's generation reads the published folder
