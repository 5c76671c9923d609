"""Sampling continuations of prompts: backends behind one interface (hf, vllm)."""
