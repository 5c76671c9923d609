"""Bilingual sentence retrieval as a predictor of cross-lingual detoxification (paper §5, App. E; Figures 4, 13–15).

- `parallel`: the multi-way parallel sentences (the paper's 200 translated prompts, or NTREX-128).
- `representations`: per-layer mean-pooled hidden states of the base model, one pass per (model, language).
- `measures`: top-1 retrieval accuracy (both directions) and the reference code's mean paired cosine, per layer.
- `predictor`: %EMT change after English DPO vs retrieval, Pearson/Spearman, Figure 4.
- `steps`: the workflow steps (files in, files out) behind `workflow/scripts/retrieval_*.py`.
"""
