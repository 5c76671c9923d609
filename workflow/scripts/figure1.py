from xdetox.logs import job_log
from xdetox.report.figures import figure1
from xdetox.steps import load_metrics

with job_log(snakemake.log[0]):
    figure1(snakemake.params.label, snakemake.params.langs, load_metrics(snakemake.input.base),
            load_metrics(snakemake.input.dpo), snakemake.output.png, snakemake.params.scorer)
