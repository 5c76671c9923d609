"""The paper's Table 2 (Table 2): 17-language averages before and after English DPO.

Toxicity scored with Perspective API; PPL = mean over languages of the median perplexity under mT5-XL in the
reference code's computation (xg/eval/metric_perplexity.py); Dist-n as in xg/eval/metric_diversity.py.
ToxProb is stored as a fraction (the paper prints percentages).
"""

from __future__ import annotations

COLUMNS = ("emt", "tox_prob", "avg_tox", "ppl", "dist1", "dist2", "dist3")

#: paper_reference key → (label, {"base": row, "dpo": row})
PAPER_TABLE2: dict[str, tuple[str, dict[str, dict[str, float]]]] = {
    "mgpt-1.3b": ("mGPT (1.3B)", {
        "base": dict(emt=0.502, tox_prob=0.468, avg_tox=0.121, ppl=18.74, dist1=0.520, dist2=0.825, dist3=0.841),
        "dpo": dict(emt=0.157, tox_prob=0.039, avg_tox=0.028, ppl=23.68, dist1=0.487, dist2=0.807, dist3=0.845),
    }),
    "bloom-1.7b": ("BLOOM (1.7B)", {
        "base": dict(emt=0.493, tox_prob=0.456, avg_tox=0.122, ppl=18.56, dist1=0.518, dist2=0.816, dist3=0.833),
        "dpo": dict(emt=0.185, tox_prob=0.063, avg_tox=0.033, ppl=25.38, dist1=0.522, dist2=0.819, dist3=0.841),
    }),
    "bloom-7.1b": ("BLOOM (7.1B)", {
        "base": dict(emt=0.517, tox_prob=0.492, avg_tox=0.139, ppl=19.07, dist1=0.513, dist2=0.810, dist3=0.830),
        "dpo": dict(emt=0.269, tox_prob=0.145, avg_tox=0.054, ppl=21.59, dist1=0.520, dist2=0.812, dist3=0.834),
    }),
    "llama2-7b": ("Llama2 (7B)", {
        "base": dict(emt=0.557, tox_prob=0.555, avg_tox=0.142, ppl=14.31, dist1=0.569, dist2=0.801, dist3=0.785),
        "dpo": dict(emt=0.314, tox_prob=0.214, avg_tox=0.061, ppl=17.01, dist1=0.530, dist2=0.756, dist3=0.758),
    }),
    "llama3-8b": ("Llama3 (8B)", {
        "base": dict(emt=0.613, tox_prob=0.642, avg_tox=0.184, ppl=16.27, dist1=0.527, dist2=0.803, dist3=0.820),
        "dpo": dict(emt=0.298, tox_prob=0.201, avg_tox=0.063, ppl=19.93, dist1=0.475, dist2=0.743, dist3=0.781),
    }),
    "aya23-8b": ("Aya-23 (8B)", {
        "base": dict(emt=0.559, tox_prob=0.568, avg_tox=0.150, ppl=15.84, dist1=0.509, dist2=0.781, dist3=0.802),
        "dpo": dict(emt=0.303, tox_prob=0.232, avg_tox=0.062, ppl=18.32, dist1=0.428, dist2=0.660, dist3=0.702),
    }),
}
