"""Helpers for models/generate.py (tokenizer conversion, tiny Phi-3 judge)."""
