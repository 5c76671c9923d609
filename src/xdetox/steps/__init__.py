"""The workflow's steps: one function per rule, named like the rule, one module per rule file.

A step is the files-in/files-out body of its rule: it reads the input files, calls the domain packages (which
compute on in-memory values and never touch the workflow's files), hands the results to xdetox.report to render, and
writes every output atomically. `workflow/scripts/<rule>.py` calls exactly `xdetox.steps.<rule file>.<rule>`.

| module | rule file | rules |
|---|---|---|
| data | data.smk | fetch, prompts, pairs, base_model |
| train | train.smk | dpo |
| generate | generate.smk | generate_stage, generate, langid, langid_table |
| score | score.smk | score, agreement |
| evaluate | evaluate.smk | evaluator_model, metrics, quality_stage, quality, table2, table2_all, table1, figure1, seeds, figure10, figure11, figure12, paper_comparison |
| interpret | interpret.smk | interp_probe, interp_value_vectors, interp_projections, interp_table5, interp_figure2, interp_figure3 |
| retrieval | retrieval.smk | retrieval_sentences, retrieval_representations, retrieval_measures, retrieval_figure4 |

Adding a rule means: the rule in its .smk file, a function of the same name here, a script of the same name.
"""
