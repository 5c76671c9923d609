from xdetox.evaluation import table2_step
from xdetox.logs import job_log

with job_log(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    files = {kind: {s: i[f"{s}_{kind}"] for s in ("base", "dpo")} for kind in ("metrics", "fluency", "diversity")
             if f"base_{kind}" in i.keys()}
    table2_step(p.label, p.langs, files["metrics"], files.get("fluency"), files.get("diversity"),
                dict(snakemake.output.items()), snakemake.wildcards.scorer, p.notes)
