"""Toxicity scorers behind one interface (see base.Scorer) and the scoring of generation files."""
