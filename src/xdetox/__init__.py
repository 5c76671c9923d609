"""xdetox: cross-lingual toxicity mitigation with English DPO — the library behind the Snakemake workflow."""

__version__ = "0.1.0"


class XdetoxError(Exception):
    """A user-facing error: its message names the file, line or config key at fault."""
