"""Every table and figure of the study: renderers that take computed values and write CSV, Markdown, LaTeX, PNG.

Computation lives in the domain packages (metrics, scoring, interp, retrieval, langid, train); the steps
(xdetox.steps) read the workflow's files, compute, and hand the results to these renderers.

- `render`: the pyplot backend and `save_figure` (atomic PNG); `markdown`: `md_cell` (cell escaping).
- `captions`: prose for table notes and figure titles that the rule files compute at parse time (no heavy imports).
- `tables`, `figures`: Tables 1 and 2, the seed table, the comparison with the paper; Figures 1, 5–12.
- `training`, `langid`, `agreement`, `interpret`, `retrieval`: the DPO curve, language of continuations, scorer
  agreement, Tables 4/5/8/9 and Figures 2/3, Figure 4 and the per-layer retrieval curves.
- `paper_numbers`: the paper's Table 2, for the comparison.
"""
