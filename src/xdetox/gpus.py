"""GPU placement on one machine: each GPU job sees exactly the GPUs it holds, never another job's.

Snakemake's `gpu` resource only counts GPUs; it does not say which. Without more, every job that declares `gpu: 1`
opens CUDA device 0, so concurrent vLLM jobs pile onto GPU 0, and a DPO job that sees several GPUs is refused by
TRL's DPOTrainer (it will not run under `nn.DataParallel`). Here a job takes `k` of the machine's GPUs as slots: one
lock file per GPU under a folder shared by every job of the machine, locked with `fcntl.flock`, and runs with
`CUDA_VISIBLE_DEVICES` set to the GPUs it holds. A job takes all of its `k` slots at once or none (two 2-GPU jobs
can never each hold one GPU and wait for the other's), and the kernel drops a flock when its process ends, however
it ends (`kill -9` included), so a crashed job never strands a GPU.

Inside a Slurm job step the allocation is the placement (`srun --gpus=k` sets `CUDA_VISIBLE_DEVICES` for the step):
nothing is locked and the environment is left alone.

Which GPUs a machine has: `XDETOX_GPUS` (comma-separated device ids, to reserve a subset, or to fake GPUs in tests),
else `CUDA_VISIBLE_DEVICES` if it is set, else the UUIDs `nvidia-smi` lists (UUIDs rather than indices: CUDA numbers
devices fastest-first unless told otherwise, nvidia-smi by PCI bus; a UUID means the same GPU to both).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, MutableMapping, Sequence

from . import XdetoxError

log = logging.getLogger("xdetox.gpus")

GPUS_ENV = "XDETOX_GPUS"
LOCK_DIR_ENV = "XDETOX_GPU_LOCK_DIR"
VISIBLE = "CUDA_VISIBLE_DEVICES"


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def machine_gpus(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """The device ids this machine's jobs share (see the module docstring for where they come from)."""
    env = os.environ if environ is None else environ
    if env.get(GPUS_ENV) is not None:
        return _split(env[GPUS_ENV])
    if env.get(VISIBLE) is not None:
        return _split(env[VISIBLE])
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        # a driver that does not answer means no usable GPU, exactly as for CUDA itself
        return []
    return [line.strip() for line in out.splitlines() if line.strip().startswith("GPU-")]


def in_slurm_step(environ: MutableMapping[str, str] | None = None) -> bool:
    """True inside a Slurm job step (srun), whose GPUs Slurm has already chosen; an salloc shell is not a step."""
    env = os.environ if environ is None else environ
    return "SLURM_JOB_ID" in env and "SLURM_STEP_ID" in env


def default_lock_dir() -> Path:
    if os.environ.get(LOCK_DIR_ENV):
        return Path(os.environ[LOCK_DIR_ENV])
    # one folder per user on the machine: the jobs of every workflow this user runs here share the GPUs
    return Path(tempfile.gettempdir()) / f"xdetox-gpu-slots-{os.getuid()}"


def _lock_name(gpu: str) -> str:
    return "gpu-" + re.sub(r"[^A-Za-z0-9._-]", "_", gpu) + ".lock"


def _cuda_initialised() -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    try:
        return bool(torch.cuda.is_initialized())
    except Exception:  # a torch build without CUDA support
        return False


def _try_take(gpus: Sequence[str], k: int, lock_dir: Path) -> list[tuple[str, int]] | None:
    """Lock k free GPUs, all or none: [(gpu, fd)], or None when fewer than k are free now."""
    held: list[tuple[str, int]] = []
    for gpu in gpus:
        fd = os.open(lock_dir / _lock_name(gpu), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        held.append((gpu, fd))
        if len(held) == k:
            return held
    for _, fd in held:
        os.close(fd)
    return None


def _holders(gpus: Sequence[str], lock_dir: Path) -> str:
    notes = []
    for gpu in gpus:
        try:
            text = (lock_dir / _lock_name(gpu)).read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        notes.append(f"{gpu}: {text or 'free'}")
    return "; ".join(notes)


@contextlib.contextmanager
def gpu_slots(k: int, *, gpus: Sequence[str] | None = None, lock_dir: str | os.PathLike | None = None,
              timeout: float | None = None, poll: float = 0.5, label: str = "",
              environ: MutableMapping[str, str] | None = None) -> Iterator[list[str]]:
    """Hold `k` of the machine's GPUs for the block, with `CUDA_VISIBLE_DEVICES` naming exactly them.

    `k == 0` hides every GPU for the block (a CPU job must not open a GPU another job holds). Waits for free GPUs
    (`timeout` seconds, None: as long as it takes); yields the device ids held. Must be entered before CUDA is
    initialised in this process: CUDA reads `CUDA_VISIBLE_DEVICES` once.
    """
    env = os.environ if environ is None else environ
    if k < 0:
        raise ValueError(f"a job cannot hold {k} GPUs")
    if in_slurm_step(env):
        yield _split(env.get(VISIBLE, ""))
        return
    if _cuda_initialised():
        raise XdetoxError("CUDA was initialised before this job took its GPU slots, so CUDA_VISIBLE_DEVICES can no "
                          "longer choose its GPUs: take the slots before the first CUDA call")
    previous = env.get(VISIBLE)
    held: list[tuple[str, int]] = []
    try:
        if k > 0:
            pool = list(machine_gpus(env) if gpus is None else gpus)
            if k > len(pool):
                raise XdetoxError(
                    f"this job needs {k} GPU(s) but {len(pool)} {'is' if len(pool) == 1 else 'are'} available "
                    f"({', '.join(pool) or 'none'}): lower the job's GPU count (a model's resources.gpus) or set "
                    f"{GPUS_ENV} to this machine's GPUs"
                )
            folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
            folder.mkdir(parents=True, exist_ok=True)
            start = time.monotonic()
            announced = False
            while True:
                taken = _try_take(pool, k, folder)
                if taken is not None:
                    held = taken
                    break
                waited = time.monotonic() - start
                if timeout is not None and waited >= timeout:
                    raise XdetoxError(f"no {k} free GPU(s) among {len(pool)} after {waited:.0f} s "
                                      f"(lock folder {folder}; {_holders(pool, folder)})")
                if not announced:
                    log.info("waiting for %d free GPU(s) of %d (%s)", k, len(pool), _holders(pool, folder))
                    announced = True
                time.sleep(poll)
            note = f"pid {os.getpid()}" + (f", {label}" if label else "") + f", since {time.strftime('%H:%M:%S')}\n"
            for _, fd in held:
                os.ftruncate(fd, 0)
                os.pwrite(fd, note.encode(), 0)
        ids = [gpu for gpu, _ in held]
        env[VISIBLE] = ",".join(ids)
        if ids:
            log.info("holding GPU(s) %s", ", ".join(ids))
        yield ids
    finally:
        if previous is None:
            env.pop(VISIBLE, None)
        else:
            env[VISIBLE] = previous
        for _, fd in held:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)
