import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # envs/vllm.yaml cannot pip-install xdetox's pins

from xdetox.logs import job_log
from xdetox.steps.generate import generate_stage

with job_log(snakemake.log[0], snakemake.resources.get("gpu", 0), snakemake.rule):
    p = snakemake.params
    generate_stage(snakemake.input.model, dict(zip(p.langs, snakemake.input.prompts)), snakemake.output[0],
                   p.generation, p.cache_dir, p.namespace, snakemake.threads)
