"""Equivalence of two final answers (placeholder; being built out)."""

from __future__ import annotations

from harness.answers.types import Budget


def compare(pred: str, gold: str, family: str, budget: Budget) -> bool:
    """True when ``pred`` equals ``gold`` (normalized string comparison for now)."""
    return " ".join(pred.split()) == " ".join(gold.split())
