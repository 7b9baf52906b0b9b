"""Shared pieces of the verified generators: the registry entry type and LaTeX formatting.

A generator is a function ``fn(rng, level) -> (question, solution, answer, meta)``: ``answer`` is the
final answer in LaTeX as MATH writes it (``\\frac{3}{4}``, ``2\\sqrt{3}``, ``25\\pi``, ``1011_2``), computed
exactly (integers, :class:`fractions.Fraction`, or sympy objects built by constructors, never parsed
from text); ``meta`` holds the parameters so tests can recompute the answer by another route.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

GenFn = Callable[[random.Random, int], tuple[str, str, str, dict]]


@dataclass(frozen=True)
class Generator:
    """One registered generator (see :data:`synth.generators.GENERATORS`)."""

    topic: str  # "<subject key>/<name>", e.g. "number_theory/mod"
    subject: str  # MATH subject name, or "GSM8K"
    family: str  # answer rules: "math" or "gsm8k"
    version: str
    description: str
    fn: GenFn


def frac(x: Fraction | int) -> str:
    """An exact rational in MATH style: ``7``, ``-\\frac{3}{4}``."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    sign = "-" if x < 0 else ""
    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"


def sym(expr) -> str:
    """A sympy object (built by constructors) as compact LaTeX: ``2\\sqrt{3}``, ``-\\frac{\\sqrt{2}}{2}``."""
    import sympy

    return "".join(sympy.latex(expr).split())


def nonzero(rng: random.Random, lo: int, hi: int) -> int:
    """A random integer in [lo, hi] other than 0."""
    while True:
        v = rng.randint(lo, hi)
        if v:
            return v


def signed_term(c: int, var: str = "", first: bool = False) -> str:
    """``c*var`` as it appears in a polynomial: ``3x``, ``- x``, ``+ 5``."""
    if c == 0:
        return ""
    mag = abs(c)
    body = (str(mag) if mag != 1 or not var else "") + var
    if first:
        return ("-" if c < 0 else "") + body
    return (" - " if c < 0 else " + ") + body


def poly(coeffs: list[int], var: str = "x") -> str:
    """LaTeX of a polynomial from coefficients, highest degree first."""
    deg = len(coeffs) - 1
    out = ""
    for i, c in enumerate(coeffs):
        p = deg - i
        v = "" if p == 0 else (var if p == 1 else f"{var}^{p}")
        out += signed_term(c, v, first=not out)
    return out or "0"
