"""Final-answer extraction from model outputs (stub; being built)."""

from __future__ import annotations


def extract(output: str, family: str, mode: str) -> str | None:
    """The final answer in ``output`` or None (stub)."""
    return None
