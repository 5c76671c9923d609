"""Multilingual capability before and after DPO (the paper's Table 3) through lm-evaluation-harness.

- benchmarks: Okapi's ARC, HellaSwag, MMLU (letters and full-text) — task names, languages, set-up;
- data: the local-folder layout for offline clusters;
- okapi: document processing of the project's own tasks (hellaswag_zh, m_mmlu_fulltext_{lang}) in tasks/;
- harness: one checkpoint, many tasks, one model load, through ``lm_eval.simple_evaluate``.
"""
