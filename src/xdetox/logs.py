"""Logging for workflow jobs: everything (including library progress bars) goes to the rule's log file."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | Path | None, gpus: int | None = None, label: str = ""):
    """Send logging and stderr to `path` for the duration of a job; errors are logged before they propagate.

    `gpus` (the rule's `gpu` resource; 0 for CPU rules) makes the job hold that many GPU slots of the machine
    (xdetox.gpus), so it sees exactly its own GPUs; None leaves CUDA_VISIBLE_DEVICES alone (in-process callers).
    """
    if path is None:
        with _slots(gpus, label):
            yield logging.getLogger("xdetox")
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", buffering=1) as handle:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        old_stderr = sys.stderr
        sys.stderr = handle
        try:
            with _slots(gpus, label):
                yield logging.getLogger("xdetox")
        except Exception:
            logging.getLogger("xdetox").exception("job failed")
            raise
        finally:
            sys.stderr = old_stderr
            root.removeHandler(handler)


def _slots(gpus: int | None, label: str):
    if gpus is None:
        return contextlib.nullcontext()
    from .gpus import gpu_slots

    return gpu_slots(int(gpus), label=label)
