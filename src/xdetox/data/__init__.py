"""Inputs of the study: pinned remote sources, RTP-LX prompts, English preference pairs, parallel sentences."""
