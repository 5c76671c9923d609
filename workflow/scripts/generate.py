import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # envs/vllm.yaml cannot pip-install xdetox's pins

from xdetox.logs import job_log
from xdetox.steps import generate_step

with job_log(snakemake.log[0]):
    generate_step(snakemake.input.model, snakemake.input.prompts, snakemake.output[0], snakemake.params.generation,
                  threads=snakemake.threads, cache_dir=snakemake.params.cache_dir,
                  namespace=snakemake.params.namespace, lang=snakemake.wildcards.lang,
                  siblings=snakemake.params.siblings)
