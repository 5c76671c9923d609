"""Capability through the project's code path (xdetox.steps.capability → lm-evaluation-harness) on a tiny model.

Planted answer keys: each item's choices are one word repeated 1–4 times (" w", " w w", …). A continuation's
log-likelihood is the sum of its tokens' log-probabilities, each < 0, and " w w" is " w" plus more tokens, so every
model — a random one included — gives the single word the highest likelihood. Items whose gold answer is the single
word are therefore right and all others wrong: the harness's `acc` must equal the planted fraction exactly, whatever
the weights. `acc_norm` (likelihood per character) has no such guarantee and is checked against the same model's
log-likelihoods computed here.

Both stages run: `base` is the tiny model, `dpo` the tiny model plus a random LoRA adapter (the harness's PEFT path).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from capability_fixtures import arc_rows, hellaswag_vi_rows, hellaswag_zh_rows, jsonl, mmlu_rows  # noqa: E402
from xdetox.steps import capability as steps  # noqa: E402

N_TEST = 10
PLANTED = {("arc", "ru"): 6, ("hellaswag", "zh-hans"): 7, ("mmlu_fulltext", "ru"): 4}
SETTINGS = {
    # Table 3 shows acc here (the planted metric); acc_norm is recorded all the same
    "benchmarks": {"arc": {"num_fewshot": 3, "metric": "acc"}, "hellaswag": {"metric": "acc"},
                   "mmlu_fulltext": {"num_fewshot": 2}, "mmlu": {"num_fewshot": 0}},
    "device": "cpu", "dtype": "float32", "batch_size": 4, "seed": 1234,
}
TASKS = [("arc", "ru"), ("hellaswag", "zh-hans"), ("hellaswag", "vi"), ("mmlu_fulltext", "ru"), ("mmlu", "ru")]


def write_fixtures(root: Path) -> Path:
    jsonl(root / "m_arc" / "ru" / "test.jsonl", arc_rows(N_TEST, PLANTED[("arc", "ru")]))
    jsonl(root / "m_arc" / "ru" / "train.jsonl", arc_rows(12, 12))
    jsonl(root / "m_hellaswag" / "zh" / "val.jsonl", hellaswag_zh_rows(N_TEST, PLANTED[("hellaswag", "zh-hans")]))
    jsonl(root / "m_hellaswag" / "vi" / "val.jsonl", hellaswag_vi_rows(N_TEST))
    jsonl(root / "m_mmlu" / "ru" / "test.jsonl", mmlu_rows(N_TEST, PLANTED[("mmlu_fulltext", "ru")]))
    jsonl(root / "m_mmlu" / "ru" / "train.jsonl", mmlu_rows(5, 5))
    return root


def make_adapter(model_dir: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    # random B matrices (init_lora_weights=False) so the adapter really changes the scores
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules=["c_attn", "c_fc"],
                                                  init_lora_weights=False))
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def evaluated(tiny_model_dir, tmp_path_factory):
    import lm_eval.evaluator
    import torch

    # one thread: on a shared 2-core machine more threads make these tiny forward passes several times slower
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("capability")
    data = write_fixtures(root / "data")
    model_dir = tiny_model_dir("gpt2")
    adapter = make_adapter(model_dir, root / "adapter")
    from xdetox.capability import harness

    loads = []
    real_load = harness.load_model

    def counting_load(*args, **kwargs):
        loads.append(kwargs.get("peft"))
        return real_load(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        # simple_evaluate records the environment by running `pip list` and friends (~4 s a call): not under test
        mp.setattr(lm_eval.evaluator, "add_env_info", lambda results: None)
        mp.setattr(harness, "load_model", counting_load)
        out = {}
        for stage, peft in (("base", None), ("dpo", adapter)):
            outputs = [(b, lang, str(root / "results" / stage / f"{b}_{lang}.json")) for b, lang in TASKS]
            steps.capability(str(model_dir), outputs, SETTINGS, model="tiny", stage=stage, local_dir=str(data),
                             peft=str(peft) if peft else None)
            out[stage] = {(b, lang): json.loads(Path(p).read_text()) for b, lang, p in outputs}
    return {"records": out, "root": root, "data": data, "model_dir": model_dir, "adapter": adapter, "loads": loads}


def test_one_model_load_per_stage_for_all_tasks(evaluated):
    assert len(evaluated["loads"]) == 2 and evaluated["loads"][0] is None and evaluated["loads"][1]


@pytest.mark.parametrize("stage", ["base", "dpo"])
def test_planted_answer_key_gives_the_planted_accuracy(evaluated, stage):
    for key, n_right in PLANTED.items():
        rec = evaluated["records"][stage][key]
        assert rec["n"] == N_TEST and rec["n_total"] == N_TEST
        p = n_right / N_TEST
        assert rec["acc"] == pytest.approx(p, abs=1e-12), key
        # the harness's standard error of a mean: sample standard deviation / √n
        assert rec["acc_stderr"] == pytest.approx(math.sqrt(p * (1 - p) / (N_TEST - 1))), key
        assert rec["model"] == "tiny" and rec["stage"] == stage and rec["data"] == "local"


def test_shots_and_splits_are_recorded(evaluated):
    recs = evaluated["records"]["base"]
    arc = recs[("arc", "ru")]
    assert (arc["task"], arc["num_fewshot"], arc["split"], arc["fewshot_split"]) == ("arc_ru", 3, "test", "train")
    hs = recs[("hellaswag", "zh-hans")]
    assert (hs["task"], hs["task_source"], hs["num_fewshot"], hs["split"]) == ("hellaswag_zh", "xdetox", 0, "val")
    assert hs["okapi_lang"] == "zh" and hs["lang"] == "zh-hans"
    mm = recs[("mmlu_fulltext", "ru")]
    assert (mm["task"], mm["num_fewshot"], mm["fewshot_split"]) == ("m_mmlu_fulltext_ru", 2, "train")
    letters = recs[("mmlu", "ru")]
    assert letters["task"] == "m_mmlu_ru" and "acc_norm" not in letters and letters["acc_stderr"] is not None
    assert arc["lm_eval_version"] == "0.4.13" and arc["seed"] == 1234


# -------------------------------------------------------------------------- the same scores computed here

class Scorer:
    """Sum of log-probabilities of a continuation after a context, as a causal LM scores it."""

    def __init__(self, model_dir, adapter=None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
        self.model = model.eval()

    def __call__(self, context: str, continuation: str) -> float:
        torch = self.torch
        ctx = self.tok.encode(context)
        whole = self.tok.encode(context + continuation)
        assert whole[:len(ctx)] == ctx
        with torch.no_grad():
            logits = self.model(torch.tensor([whole])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        return float(sum(logprobs[i - 1, whole[i]] for i in range(len(ctx), len(whole))))


def accuracy(scorer, docs):
    """(acc, acc_norm) as the harness defines them: argmax of the log-likelihood, and of it per character."""
    acc = acc_norm = 0
    for query, choices, gold in docs:
        ll = [scorer(query, " " + c) for c in choices]
        acc += max(range(len(ll)), key=lambda k: ll[k]) == gold
        acc_norm += max(range(len(ll)), key=lambda k: ll[k] / len(c) if (c := choices[k]) else ll[k]) == gold
    return acc / len(docs), acc_norm / len(docs)


def hellaswag_docs(rows):
    return [(f"{r['activity_label']}: {r['ctx_a']} {r['ctx_b'].capitalize()}".strip(), r["endings"],
             int(r["label"])) for r in rows]


def mmlu_letter_docs(rows):
    return [(f"{r['instruction'].strip()}\nA. {r['option_a']}\nB. {r['option_b']}\nC. {r['option_c']}\n"
             f"D. {r['option_d']}\nAnswer:", ["A", "B", "C", "D"], "ABCD".index(r["answer"])) for r in rows]


@pytest.mark.parametrize("stage", ["base", "dpo"])
def test_harness_scores_match_the_models_own_likelihoods(evaluated, stage):
    scorer = Scorer(evaluated["model_dir"], evaluated["adapter"] if stage == "dpo" else None)
    recs = evaluated["records"][stage]
    acc, acc_norm = accuracy(scorer, hellaswag_docs(hellaswag_vi_rows(N_TEST)))
    assert recs[("hellaswag", "vi")]["acc"] == pytest.approx(acc)
    assert recs[("hellaswag", "vi")]["acc_norm"] == pytest.approx(acc_norm)
    # the harness's m_mmlu scores the answer letters, the project's full-text variant the choices themselves
    letters, _ = accuracy(scorer, mmlu_letter_docs(mmlu_rows(N_TEST, PLANTED[("mmlu_fulltext", "ru")])))
    assert recs[("mmlu", "ru")]["acc"] == pytest.approx(letters)


def test_the_adapter_is_applied(evaluated):
    base = Scorer(evaluated["model_dir"])
    tuned = Scorer(evaluated["model_dir"], evaluated["adapter"])
    assert abs(base("Hôm nay", " nắng") - tuned("Hôm nay", " nắng")) > 1e-3


def test_table3_from_the_evaluated_records(evaluated, tmp_path):
    records = [p for stage in ("base", "dpo") for p in (evaluated["root"] / "results" / stage).glob("*.json")]
    tox = []
    for stage, emt in (("base", 0.5), ("dpo", 0.2)):
        for lang in ("ru", "zh-hans"):
            path = tmp_path / "metrics" / stage / f"{lang}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"model": "tiny", "stage": stage, "lang": lang, "emt": emt, "tox_prob": emt,
                                        "avg_tox": emt / 2}))
            tox.append(str(path))
    out = {k: tmp_path / f"table3.{k}" for k in ("csv", "md", "tex")}
    out.update(figure=tmp_path / "table3.png", paper_csv=tmp_path / "paper.csv", paper_md=tmp_path / "paper.md")
    steps.table3(sorted(map(str, records)), out,
                 labels={"tiny": "Tiny GPT-2"}, paper_refs={"tiny": "bloom-7.1b"}, toxicity_paths=tox, scorer="lexicon")
    md = out["md"].read_text()
    # planted: ARC ru 60% and MMLU ru 40% (± √(0.24/9)), HellaSwag zh 70% (± √(0.21/9)), before and after
    assert ("| ru | 60.00 ± 16.33 | 60.00 ± 16.33 | +0.00 ± 23.09 | — | — | — | 40.00 ± 16.33 | 40.00 ± 16.33 | "
            "+0.00 ± 23.09 |") in md
    assert "| zh | — | — | — | 70.00 ± 15.28 | 70.00 ± 15.28 | +0.00 ± 21.60 | — | — | — |" in md
    assert "| ARC (acc, 3-shot, test) before | after | Δ | HellaSwag (acc, 0-shot, val) before |" in md
    assert "MMLU (acc, 2-shot, test)" in md and "MMLU (letters) (acc, 0-shot, test)" in md
    rows = list(csv.DictReader(out["csv"].open()))
    assert {r["metric"] for r in rows if r["benchmark"] == "arc"} == {"acc", "acc_norm"}
    assert r"\multicolumn{3}{c}{ARC (acc, 3-shot, test)}" in out["tex"].read_text()
    assert (tmp_path / "table3.png").stat().st_size > 0
    paper = (tmp_path / "paper.md").read_text()
    assert "| Tiny GPT-2 | BLOOM (7.1B) | MMLU | ru | acc | 40.00 / 27.09 | 40.00 / 27.59 | +0.00 / +0.50 |" in paper
