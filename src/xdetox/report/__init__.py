"""Tables and figures of the paper, built from metrics files."""
