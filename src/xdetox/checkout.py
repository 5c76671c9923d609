"""Which xdetox the workflow's jobs import: the one in the checkout that holds the Snakefile."""

from __future__ import annotations

import os
from typing import MutableMapping


def prefer_checkout(src: str | os.PathLike, environ: MutableMapping[str, str] | None = None) -> str:
    """Put `src` first on PYTHONPATH in `environ` (default os.environ), once; return the new value.

    Script jobs are fresh Python processes that inherit the environment: without this they import whichever xdetox is
    installed (an editable install of another clone, say), not the code beside the Snakefile that planned them.
    """
    environ = os.environ if environ is None else environ
    src = os.fspath(src)
    rest = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    environ["PYTHONPATH"] = os.pathsep.join([src, *rest])
    return environ["PYTHONPATH"]
