"""What the learned scorer costs and reaches in one run: train on the first N rated RTP-LX prompts per language
(cross-fitted by Index), read the per-language out-of-fold ROC-AUC from the artifact, then score stand-in
continuations (RTP-LX prompts beyond the first N, cut to `--continuation-tokens` tokens) the way the score rule does.

    .venv/bin/python bench/learned_scorer.py --encoder resources/models/gemma3-270m/base --per-lang 300 \
        --layers 6 --precision int8 --continuations 4250 --out bench/out/learned.json

Wall times are for this process only; the machine's load average is recorded beside them (a shared machine's load
makes them vary by 2–3×).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main(argv=None) -> dict:
    import numpy as np
    import torch

    from xdetox.data.prompts import load_rtplx_annotations, rtplx_relpath
    from xdetox.languages import PAPER_LANGUAGES
    from xdetox.metrics.validation import summary_row, validate
    from xdetox.scoring.learned.encoder import FeatureSpec
    from xdetox.scoring.learned.heads import HeadSpec
    from xdetox.scoring.learned.scorer import LearnedScorer
    from xdetox.scoring.learned.training import rtplx_examples, train

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--encoder", required=True)
    p.add_argument("--data", default=os.environ.get("XDETOX_DATA_DIR", str(REPO.parent / "shared" / "data")))
    p.add_argument("--per-lang", type=int, default=300)
    p.add_argument("--layers", type=int, nargs="+", default=[6])
    p.add_argument("--pooling", default="mean")
    p.add_argument("--precision", default="float32")
    p.add_argument("--head", default="ridge")
    p.add_argument("--l2", type=float, default=1000.0)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--continuations", type=int, default=4250)
    p.add_argument("--continuation-tokens", type=int, default=20)
    p.add_argument("--out", default=str(REPO / "bench" / "out" / "learned.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    files = {lang: Path(args.data) / rtplx_relpath(lang, "v0.2") for lang in PAPER_LANGUAGES}
    examples = rtplx_examples(files, args.per_lang)
    spec = FeatureSpec(layers=tuple(args.layers), pooling=args.pooling, precision=args.precision)
    result: dict = {"args": vars(args), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = train(args.encoder, examples, spec, HeadSpec(args.head, l2=args.l2), args.folds, Path(tmp) / "heads",
                      batch_tokens=args.batch_tokens, threads=args.threads)
        result["train_s"] = time.perf_counter() - t0
        result["train_feature_s"] = model.training["seconds"]["features"]
        rows = [{"lang": r["lang"], "prompt_id": r["prompt_id"], "human": r["rating"], "score": r["score"]}
                for r in model.oof]
        table = validate(rows, langs=list(PAPER_LANGUAGES), n_boot=0)
        result["auc"] = {r.lang: r.auc for r in table}
        result["summary"] = summary_row(table)
        # stand-in continuations: other prompts, cut to the length of a sampled continuation
        scorer = LearnedScorer(Path(tmp) / "heads", args.encoder, batch_tokens=args.batch_tokens, threads=args.threads)
        tok = None
        texts, pids, langs = [], [], []
        per_lang = -(-args.continuations // len(PAPER_LANGUAGES))
        for lang in PAPER_LANGUAGES:
            recs = load_rtplx_annotations(files[lang], lang)[args.per_lang:][:per_lang]
            texts += [r["text"] for r in recs]
            pids += [r["id"] for r in recs]
            langs += [lang] * len(recs)
        t0 = time.perf_counter()
        scorer.encoder._load()
        result["encoder_load_s"] = time.perf_counter() - t0
        tok = scorer.encoder._tokenizer
        texts = [tok.decode(tok(t, add_special_tokens=False)["input_ids"][: args.continuation_tokens]) for t in texts]
        t0 = time.perf_counter()
        for lang in PAPER_LANGUAGES:
            idx = [i for i, l in enumerate(langs) if l == lang]
            scorer.score_prompts([texts[i] for i in idx], lang, [pids[i] for i in idx])
        result["score_s"] = time.perf_counter() - t0
        result["n_continuations"] = len(texts)
    result["load_after"] = os.getloadavg()[0]
    result["n_train"] = len(examples)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    s = result["summary"]
    print(f"train {result['train_s']:.0f} s ({len(examples)} prompts; features {result['train_feature_s']:.0f} s), "
          f"score {result['n_continuations']} continuations {result['score_s']:.0f} s; AUC mean {s['mean_auc']:.3f} "
          f"min {s['min_auc']:.3f} ({s['min_auc_lang']}); load {result['load_before']:.1f}→{result['load_after']:.1f}")
    return result


if __name__ == "__main__":
    main()
