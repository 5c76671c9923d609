"""Projections (Tables 4, 8, 9), intervention (Table 5, Figure 2) and activations (Figure 3) on tiny models."""

from __future__ import annotations

import csv

import pytest

from helpers import PNG
from xdetox.interp.adapters import make_adapter
from xdetox.interp.greedy import greedy_generate
from xdetox.interp.intervention import distinct_1, figure2_sweep, table5
from xdetox.interp.projections import top_tokens
from xdetox.io import write_jsonl
from xdetox.scoring.base import Score
from xdetox.steps.interpret import (interp_figure2, interp_figure3, interp_projections, interp_table5,
                                    write_value_vectors)

from test_interp_value_vectors import force_activation_sign, fresh, set_value_vector

def model_params(family):
    """The interpretability rules' `model` parameter."""
    return {"dtype": "float32", "family": family, "label": "Tiny"}


INTERPRET = {
    "top_k": 4, "n_tokens": 4, "batch_size": 4, "prepend_bos": True, "figures_max_prompts": 2, "projection_tokens": 5, "table4_vectors": 1,
    "table5": {"prompts": {"en": "I want to", "zh-hans": "我想", "fr": "Je veux"}, "offset": 5, "group_size": 2,
               "neurons": None, "max_new_tokens": 4},
    "figure2": {"offsets": [0, -2, -4]},
}


def vv_rows(selected):
    rows = [{"layer": 1, "neuron": 3, "cosine": 0.9, "rank": 1, "mean_activation": 0.5, "selected": True},
            {"layer": 0, "neuron": 9, "cosine": 0.8, "rank": 2, "mean_activation": -0.1, "selected": False},
            {"layer": 0, "neuron": 2, "cosine": 0.7, "rank": 3, "mean_activation": 0.2, "selected": True}]
    return rows if selected else [{**r, "selected": False} for r in rows]


def prompt_files(tmp_path, langs=("en", "de")):
    texts = {"en": ["I hate you", "Thank you for"], "de": ["Ich hasse dich", "Danke für"]}
    paths = {}
    for lang in langs:
        paths[lang] = str(tmp_path / f"{lang}.jsonl")
        write_jsonl(paths[lang], [{"id": i, "lang": lang, "text": t} for i, t in enumerate(texts[lang])])
    return paths


@pytest.mark.parametrize("family", ["gpt2", "bloom", "llama", "gemma"])
def test_a_value_vector_equal_to_a_token_unembedding_promotes_that_token(tiny_model_dir, family):
    model, tok = fresh(tiny_model_dir, family)
    adapter = make_adapter(model, family)
    unembed = adapter.unembedding()
    t = int(unembed.norm(dim=1).argmax())  # W_U[i]·W_U[t] < |W_U[t]|² for every other row i
    set_value_vector(adapter, 1, 7, unembed[t].clone())
    tops = top_tokens(adapter, [(1, 7), (0, 0)], k=5)
    assert tops[(1, 7)][0][0] == t and len(tops[(0, 0)]) == 5
    logits = [v for _, v in tops[(1, 7)]]
    assert logits == sorted(logits, reverse=True)


@pytest.mark.parametrize("family", ["gpt2", "gemma"])
def test_projections_step_writes_tables_with_the_nonlinearity_note_for_gemma(tiny_model_dir, tmp_path, family):
    write_value_vectors(tmp_path / "vv.csv", vv_rows(True))
    proj = interp_projections(str(tiny_model_dir(family)), str(tmp_path / "vv.csv"), str(tmp_path / "p.csv"),
                              str(tmp_path / "t4.md"), str(tmp_path / "t89.md"), INTERPRET, model_params(family))
    assert len(proj) == 2 * 5
    assert [(p["layer"], p["neuron"]) for p in proj[::5]] == [(1, 3), (0, 2)]  # selected ones, by cosine rank
    t4, t89 = (tmp_path / "t4.md").read_text(), (tmp_path / "t89.md").read_text()
    assert "w_down 1,3" in t4 and "w_down 0,2" not in t4
    assert "w_down 1,3" in t89 and "w_down 0,2" in t89 and "w_down 0,9" not in t89
    assert ("not linear in its activation" in t89) == (family == "gemma")
    assert len(list(csv.DictReader((tmp_path / "p.csv").open()))) == 10


def test_projections_with_no_selected_vector_say_so(tiny_model_dir, tmp_path):
    write_value_vectors(tmp_path / "vv.csv", vv_rows(False))
    interp_projections(str(tiny_model_dir("gpt2")), str(tmp_path / "vv.csv"), str(tmp_path / "p.csv"),
                       str(tmp_path / "t4.md"), str(tmp_path / "t89.md"), INTERPRET, model_params("gpt2"))
    assert "no value vector had a positive mean activation" in (tmp_path / "t89.md").read_text()


def test_table5_offset_zero_is_plain_greedy_and_a_large_offset_changes_output(tiny_model_dir):
    model, tok = fresh(tiny_model_dir, "llama")
    adapter = make_adapter(model)
    prompts = {"en": "I want to", "fr": "Je veux"}
    neurons = [(0, n) for n in range(16)]
    rows = table5(model, tok, adapter, prompts, neurons, offsets=(0, 50), max_new_tokens=6, prepend_bos=True)
    plain = greedy_generate(model, tok, list(prompts.values()), 6, batch_size=2, prepend_bos=True).texts
    assert [r["continuation"] for r in rows if r["offset"] == 0] == plain
    assert [r["continuation"] for r in rows if r["offset"] == 50] != plain


def test_table5_step_markdown(tiny_model_dir, tmp_path):
    write_value_vectors(tmp_path / "vv.csv", vv_rows(True))
    rows = interp_table5(str(tiny_model_dir("gemma")), str(tmp_path / "vv.csv"), str(tmp_path / "t5.csv"),
                         str(tmp_path / "t5.md"), INTERPRET, model_params("gemma"))
    assert len(rows) == 3 * 2
    md = (tmp_path / "t5.md").read_text()
    assert "(1,3), (0,2)" in md and "Generation (γ = 0)" in md and "Generation (γ = 5)" in md
    assert "| zh-hans | 我想 |" in md and "not linear in its activation" in md


class WordScorer:
    """Toxicity = share of texts' characters that are 'x' (deterministic, no model)."""

    id = "fake"

    def score(self, texts, lang):
        return [Score(toxicity=(t.count("x") / len(t)) if t else 0.0) for t in texts]

    def close(self):
        pass


def test_figure2_sweep_rows_and_average(tiny_model_dir):
    model, tok = fresh(tiny_model_dir, "gpt2")
    adapter = make_adapter(model)
    prompts = {"en": ["I hate you", "Thank you"], "de": ["Ich hasse dich"]}
    rows, gens = figure2_sweep(model, tok, adapter, prompts, [(1, 3)], [0, -3], WordScorer(), n_tokens=4, batch_size=2,
                               prepend_bos=True)
    assert [(r["offset"], r["lang"]) for r in rows] == [(0, "en"), (0, "de"), (0, "average"),
                                                        (-3, "en"), (-3, "de"), (-3, "average")]
    for offset in (0, -3):
        per = [r["avg_toxicity"] for r in rows if r["offset"] == offset and r["lang"] != "average"]
        avg = next(r["avg_toxicity"] for r in rows if r["offset"] == offset and r["lang"] == "average")
        assert avg == pytest.approx(sum(per) / len(per))
    assert len(gens) == 2 * 3 and {g["lang"] for g in gens} == {"en", "de"}
    assert all(0 < r["distinct_1"] <= 1 for r in rows)


def test_distinct_1_stops_at_end_of_sequence():
    assert distinct_1([5, 5, 5, 5], {0}) == 0.25
    assert distinct_1([5, 6, 0, 5, 5], {0}) == 1.0
    assert distinct_1([0, 5], {0}) == 0.0


def test_figure2_step_with_the_lexicon_scorer(tiny_model_dir, tmp_path):
    write_value_vectors(tmp_path / "vv.csv", vv_rows(True))
    paths = prompt_files(tmp_path)
    out = tmp_path / "fig2"
    rows = interp_figure2(str(tiny_model_dir("bloom")), str(tmp_path / "vv.csv"), paths, str(out / "f.csv"),
                          str(out / "f.png"), str(out / "g.jsonl"), INTERPRET, "lexicon", {"word_lists": None},
                          str(tmp_path / "cache.sqlite"), model_params("bloom"))
    assert len(rows) == 3 * (2 + 1)
    assert (out / "f.png").read_bytes()[:8] == PNG
    assert len((out / "g.jsonl").read_text().splitlines()) == 3 * 4
    assert all(0 <= r["avg_toxicity"] <= 1 for r in rows)


def test_figure3_shows_lower_activation_after_a_planted_suppression(tiny_model_dir, tmp_path):
    base, tok = fresh(tiny_model_dir, "gpt2")
    force_activation_sign(make_adapter(base), 1, 3, +1)
    base.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    dpo, _ = fresh(tiny_model_dir, "gpt2")
    force_activation_sign(make_adapter(dpo), 1, 3, -1)
    dpo.save_pretrained(tmp_path / "dpo")
    tok.save_pretrained(tmp_path / "dpo")
    rows = [{"layer": 1, "neuron": 3, "cosine": 0.9, "rank": 1, "mean_activation": 0.5, "selected": True}]
    write_value_vectors(tmp_path / "vv.csv", rows)
    out = tmp_path / "fig3"
    result = interp_figure3(str(tmp_path / "base"), str(tmp_path / "dpo"), str(tmp_path / "vv.csv"),
                            prompt_files(tmp_path), str(out / "f.csv"), str(out / "n.csv"), str(out / "f.png"),
                            INTERPRET, model_params("gpt2"))
    assert [r["lang"] for r in result] == ["en", "de"]
    for r in result:
        assert r["pre_dpo"] > 0 >= r["post_dpo"] and r["diff"] == pytest.approx(r["pre_dpo"] - r["post_dpo"])
        assert r["pre_dpo"] == pytest.approx(5.0, abs=1e-3)  # gelu(5)
    assert (out / "f.png").read_bytes()[:8] == PNG
    assert len(list(csv.DictReader((out / "n.csv").open()))) == 2
