"""%EMT change vs retrieval: the join, the correlations, the outputs and Figure 4."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import stats

from xdetox import XdetoxError
from helpers import PNG
from xdetox.io import write_json
from xdetox.report.retrieval import figure4, figure4_caption
from xdetox.retrieval.predictor import correlate, emt_change, predictor
from xdetox.steps.retrieval import retrieval_figure4

LANGS = ["de", "es", "fr", "hi", "ko", "zh-hans"]
ACC = [0.95, 0.97, 0.96, 0.80, 0.78, 0.85]
COS = [0.60, 0.62, 0.61, 0.40, 0.42, 0.50]
BEFORE = [0.50, 0.48, 0.52, 0.45, 0.40, 0.44]
AFTER = [0.10, 0.08, 0.12, 0.30, 0.28, 0.20]


def _summary():
    return {lang: {"acc_en2x_avg": a, "acc_x2en_avg": a - 0.01, "acc_mean_avg": a - 0.005, "paired_cosine_avg": c}
            for lang, a, c in zip(LANGS, ACC, COS)}


def _metrics(values, with_en=True):
    out = {lang: {"emt": v} for lang, v in zip(LANGS, values)}
    if with_en:
        out["en"] = {"emt": 0.5}
    return out


def test_emt_change_is_a_fraction_and_undefined_at_zero():
    assert emt_change(0.5, 0.1) == pytest.approx(0.8)
    assert emt_change(0.2, 0.3) == pytest.approx(-0.5)
    assert emt_change(0.0, 0.0) is None and emt_change(0.0, 0.1) is None and emt_change(float("nan"), 0.1) is None


def test_correlation_matches_scipy_on_fixed_numbers():
    x = [0.91, 0.95, 0.93, 0.97, 0.90, 0.99, 0.92]
    y = [0.55, 0.80, 0.62, 0.85, 0.41, 0.97, 0.70]
    c = correlate(x, y)
    p, s = stats.pearsonr(x, y), stats.spearmanr(x, y)
    assert c["n"] == 7
    assert c["pearson_r"] == pytest.approx(p.statistic) and c["pearson_p"] == pytest.approx(p.pvalue)
    assert c["spearman_rho"] == pytest.approx(s.statistic) and c["spearman_p"] == pytest.approx(s.pvalue)
    assert correlate([1, 2], [3, 4])["pearson_r"] is None and "fewer than 3" in correlate([1, 2], [3, 4])["note"]
    assert correlate([1, 1, 1], [1, 2, 3])["pearson_r"] is None


def test_predictor_uses_non_english_languages_and_the_configured_measure():
    result = predictor(_summary(), _metrics(BEFORE), _metrics(AFTER), "accuracy")
    change = [(b - a) / b for b, a in zip(BEFORE, AFTER)]
    assert result["languages"] == LANGS and result["selected"] == "acc_en2x"
    assert result["correlation"]["pearson_r"] == pytest.approx(stats.pearsonr(ACC, change).statistic)
    ref = predictor(_summary(), _metrics(BEFORE), _metrics(AFTER), "paired_cosine")
    assert ref["correlation"]["pearson_r"] == pytest.approx(stats.pearsonr(COS, change).statistic)
    # every measure is reported beside the selected one
    assert result["correlations"]["paired_cosine"] == ref["correlation"]
    en = result["rows"][0]
    assert en["lang"] == "en" and en["used"] is False and "training language" in en["note"]


def test_a_language_missing_from_the_toxicity_results_is_an_error():
    base = _metrics(BEFORE)
    del base["ko"]
    with pytest.raises(XdetoxError, match=r"no toxicity results \(base\) for ko"):
        predictor(_summary(), base, _metrics(AFTER))
    dpo = _metrics(AFTER)
    del dpo["hi"]
    with pytest.raises(XdetoxError, match=r"no toxicity results \(dpo\) for hi"):
        predictor(_summary(), _metrics(BEFORE), dpo)
    summary = _summary()
    del summary["fr"]
    with pytest.raises(XdetoxError, match="toxicity results for fr but no retrieval measures"):
        predictor(summary, _metrics(BEFORE), _metrics(AFTER))
    with pytest.raises(XdetoxError, match="unknown retrieval measure"):
        predictor(_summary(), _metrics(BEFORE), _metrics(AFTER), "bleu")


def test_zero_emt_before_is_excluded_with_a_note(tmp_path):
    before = list(BEFORE)
    before[LANGS.index("hi")] = 0.0
    write_json(tmp_path / "measures.json", {"pivot": "en", "languages": _summary()})
    files = {}
    for stage, values in (("base", before), ("dpo", AFTER)):
        files[stage] = {}
        for lang, m in _metrics(values).items():
            files[stage][lang] = str(tmp_path / stage / f"{lang}.json")
            write_json(files[stage][lang], m)
    result = retrieval_figure4(str(tmp_path / "measures.json"), files["base"], files["dpo"], str(tmp_path / "p.csv"),
                               str(tmp_path / "p.json"), str(tmp_path / "f.png"), "accuracy", "tiny", {"model": "m"})
    assert "hi" not in result["languages"] and result["correlation"]["n"] == 5
    assert "EMT before DPO is 0" in result["excluded"]["hi"]
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    hi = next(r for r in rows if r["lang"] == "hi")
    assert hi["used"] == "False" and hi["emt_change"] == "" and "undefined" in hi["note"]
    data = json.loads((tmp_path / "p.json").read_text())  # strict JSON: no NaN
    assert data["model"] == "m" and data["excluded"]["hi"]
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG


def test_figure4_with_too_few_languages_still_draws(tmp_path):
    summary = {k: v for k, v in _summary().items() if k in ("de", "es")}
    base = {k: v for k, v in _metrics(BEFORE).items() if k in ("de", "es", "en")}
    dpo = {k: v for k, v in _metrics(AFTER).items() if k in ("de", "es", "en")}
    result = predictor(summary, base, dpo)
    assert result["correlation"]["pearson_r"] is None
    figure4(result, tmp_path / "f.png", "tiny")
    assert np.isfinite(result["rows"][1]["emt_change"])


def _corr(r, p):
    return {"pearson_r": r, "pearson_p": p, "spearman_rho": r / 2, "spearman_p": p * 2, "n": 6}


@pytest.mark.parametrize("measure, first, second", [
    ("paired_cosine", "paired cosine: Pearson-r = 0.732 (p = 0.0012)", "top-1 accuracy en-x: Pearson-r = 0.418"),
    ("accuracy", "top-1 accuracy en-x: Pearson-r = 0.418 (p = 0.21)", "paired cosine: Pearson-r = 0.732"),
])
def test_figure4_caption_leads_with_the_selected_measure_and_shows_the_other(tmp_path, measure, first, second):
    correlations = {"acc_en2x": _corr(0.418, 0.21), "acc_x2en": _corr(0.1, 0.9), "acc_mean": _corr(0.2, 0.8),
                    "paired_cosine": _corr(0.732, 0.0012)}
    selected = {"paired_cosine": "paired_cosine", "accuracy": "acc_en2x"}[measure]
    result = {"measure": measure, "selected": selected, "correlation": correlations[selected],
              "correlations": correlations, "rows": [], "excluded": {}}
    lines = figure4_caption(result)
    assert lines[0].startswith(first) and second in lines[1] and lines[-1] == "n = 6 languages"
    assert not any("x-en" in line or "both directions" in line for line in lines)
    figure4(result, tmp_path / "f.png", "tiny")  # no languages to draw: the title alone
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG


def test_figure4_caption_names_an_undefined_correlation():
    c = {"pearson_r": None, "pearson_p": None, "spearman_rho": None, "spearman_p": None, "n": 2,
         "note": "fewer than 3 languages"}
    result = {"selected": "paired_cosine", "correlation": c, "correlations": {"paired_cosine": c, "acc_en2x": c}}
    assert figure4_caption(result)[:2] == ["paired cosine: fewer than 3 languages",
                                           "beside it, top-1 accuracy en-x: fewer than 3 languages"]


def test_retrieval_config_defaults_and_errors(tiny_model_dir):
    from xdetox.config import validate_config

    models = {"m": {"source": "path", "path": str(tiny_model_dir("gpt2")), "retrieval": True}}
    cfg = validate_config({"models": models})["retrieval"]
    assert cfg["dataset"] == "parallel200" and cfg["measure"] == "accuracy" and cfg["max_sentences"] == 50
    with pytest.raises(XdetoxError, match="config key retrieval.measure"):
        validate_config({"models": models, "retrieval": {"measure": "bleu"}})
    with pytest.raises(XdetoxError, match="config key retrieval.dataset"):
        validate_config({"models": models, "retrieval": {"dataset": "flores"}})
