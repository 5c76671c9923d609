from xdetox.evaluation import paper_comparison_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    paper_comparison_step(snakemake.params.entries, dict(snakemake.output.items()), snakemake.wildcards.scorer,
                          snakemake.params.notes)
