"""What every Markdown table shares: escaping a cell (no plotting library imported: tables are rendered by light jobs)."""

from __future__ import annotations


def md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: backslashes and pipes escaped, a line break shown as ⏎."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "⏎")
