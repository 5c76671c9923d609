"""Per-language metrics of scored generations (paper §3.1.2; the reference code's xg/eval/*)."""
