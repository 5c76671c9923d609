"""The paper preset (configs/paper.yaml) plans the full study; docs/paper-settings.md covers its settings."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from helpers import REPO, job_counts, snakemake, write_config

PAPER = REPO / "configs" / "paper.yaml"


def paper_config(tmp_path) -> dict:
    config = yaml.safe_load(PAPER.read_text(encoding="utf-8"))
    pairs = tmp_path / "toxicity_pairwise"
    pairs.mkdir()
    (pairs / "split_0.jsonl").write_text('{"prompt_text": "a", "unpert_gen_text": " b", "pert_gen_text": " c"}\n')
    config["data"]["pairs"]["path"] = str(pairs)  # the two values the user must give
    probe = tmp_path / "train.csv"
    probe.write_text('id,comment_text,toxic\n1,"a",0\n2,"b",1\n', encoding="utf-8")
    config["interpret"]["probe"]["path"] = str(probe)
    return config


def expected_counts(config) -> dict[str, int]:
    n_langs = len(config["languages"])
    mgpt = config["models"]["mgpt-1.3b"]["dpo"]
    mgpt_stages = 1 + (len(mgpt["seeds"]) - 1) + (len(mgpt["learning_rates"]) - 1)  # dpo, dpo-seed<n>, dpo-lr<x>
    dpo_jobs = mgpt_stages + 2 + 4  # bloom-1.7b: dpo + dpo-qlora (Figure 12); four 7B/8B models: dpo
    model_stages = len(config["models"]) + dpo_jobs  # + the base stage of each model
    n_scorers = len(config["scoring"]["scorers"])  # Perspective, and the learned scorer beside it
    return {"dpo": dpo_jobs, "generate": model_stages * n_langs, "score": model_stages * n_langs * n_scorers,
            # the learned scorer: trained once, one encoder load per stage; both scorers validated
            "train_scorer": 1, "score_stage": model_stages, "scorer_validation": n_scorers,
            "scorer_consistency": n_scorers, "agreement": len(config["models"]),
            "quality_stage": model_stages - 1,  # Figure 12's QLoRA stage needs no fluency or diversity
            "quality": (model_stages - 1) * n_langs,
            # every table and figure of Table 2's family, per scorer
            "table2": 6 * n_scorers, "figure1": 6 * n_scorers, "language_aware": 6 * n_scorers, "figure10": 6, "figure11": n_scorers,
            "figure12": n_scorers, "seeds": n_scorers, "table1": n_scorers, "table2_all": n_scorers,
            "paper_comparison": n_scorers, "evaluator_model": 1,
            # Table 3: BLOOM-7B1, 4 languages × 3 benchmarks × 2 stages, one table
            "capability": 4 * 3 * 2, "table3": 1,
            # each staged once by content: the prompt files, the rated RTP-LX v0.2 files (validation, the learned
            # scorer), the parallel prompts (retrieval, consistency), the probe's train.csv; and the pairs folder
            "stage_input": staged_files(config) + 1, "stage_input_folder": 1}


def staged_files(config) -> int:
    """Distinct files the plan stages from the data folder (v1x has no Russian file: v0.2 stands in)."""
    from xdetox.data.parallel import relpath as parallel_relpath
    from xdetox.data.prompts import rtplx_relpath

    folder = os.environ.get("XDETOX_DATA_DIR")
    if not folder:
        return 0  # downloaded instead (rule fetch)
    release = config["data"]["prompts"]["release"]
    langs = config["languages"]
    files = {rtplx_relpath(lang, release) for lang in langs} | {rtplx_relpath(lang, "v0.2") for lang in langs}
    return len(files | {parallel_relpath("parallel200", lang) for lang in langs})


@pytest.mark.parametrize("models", ["hub", "tiny-local"])
def test_paper_preset_plans_the_full_study(tmp_path, tiny_model_dir, models):
    config = paper_config(tmp_path)
    if models == "tiny-local":  # where the hub is unreachable: the same study on tiny local checkpoints
        for name, model in config["models"].items():
            model = config["models"][name] = copy.deepcopy(model)
            model.update(source="path", path=str(tiny_model_dir(model["family"])))
            model.pop("id")
    write_config(tmp_path / "config.yaml", config)
    # the preset scores with Perspective: planning checks that a key is set (and sends no request in a dry run)
    dry = snakemake(tmp_path, "-n", "--cores", "1", env={"PERSPECTIVE_API_KEY": "planning-only"})
    counts = job_counts(dry.stdout + dry.stderr)
    for rule, n in expected_counts(config).items():
        assert counts.get(rule) == n, (rule, counts.get(rule), n)
    assert counts.get("base_model", 0) == (6 if models == "hub" else 0)


def test_paper_settings_document_names_every_preset_key():
    config = yaml.safe_load(PAPER.read_text(encoding="utf-8"))
    doc = (REPO / "docs" / "paper-settings.md").read_text(encoding="utf-8")
    keys = []
    for section in ("generation", "scoring", "evaluation", "dpo"):
        for key, value in config[section].items():
            if isinstance(value, dict):
                keys += [f"{section}.{key}.{k}" for k in value]
            else:
                keys.append(f"{section}.{key}")
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"docs/paper-settings.md does not mention {missing}"
    # every setting cites the paper or the reference code, not a document outside the repository
    assert "[P Tab 6]" in doc and "[R metric_perplexity.py]" in doc and "protocol" not in doc
