from xdetox.logs import job_log
from xdetox.steps.evaluate import paper_comparison

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    paper_comparison(snakemake.params.entries, dict(snakemake.output.items()), snakemake.wildcards.scorer,
                     snakemake.params.notes, snakemake.params.table3_paper)
