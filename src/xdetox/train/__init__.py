"""Preference tuning (DPO) of a causal LM with TRL."""
