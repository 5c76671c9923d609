import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # envs/vllm.yaml cannot pip-install xdetox's pins

from xdetox.logs import job_log
from xdetox.steps.generate import generate

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    generate(snakemake.input.model, snakemake.input.prompts, snakemake.wildcards.lang, snakemake.output[0], p.generation,
             p.cache_dir, p.namespace, p.siblings, snakemake.threads)
