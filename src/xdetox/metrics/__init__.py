"""Per-language metrics of scored generations (protocol §1.7)."""
