"""Verified problem generators: the offline default of ``harness synth`` and the fuel of the CPU demo.

Every generator makes problems from random parameters and computes the answer exactly (integers,
:class:`fractions.Fraction`, sympy objects built by constructors), so the answers need no checking
by a model. Each has a difficulty knob ``level`` (1-5, as MATH levels) and is deterministic in
``seed``. Level 1 items are short (questions of a few words, answers of a few characters) so a tiny
char-level model can learn them.

Topics (``GENERATORS``; ``<subject>/<name>``):

==============================  ===================================================
algebra/linear, /system,        linear equations, 2x2 systems, quadratic roots,
/quadratic, /series             arithmetic sequences
counting/comb, /arrange,        binomial coefficients, arrangements with repeats,
/draw, /dice                    draw-without-replacement and dice probabilities
geometry/pythag, /area,         right triangles, triangle area from vertices,
/circle                         circle area/circumference in terms of pi
intermediate/remainder,         remainder theorem, Vieta on cubics, closed-form sums
/vieta, /sums
number_theory/gcd, /lcm, /mod,  gcd, lcm, modular powers, divisor counts,
/divisors, /base                base conversion (answers like ``1011_2``)
prealgebra/arith, /fraction,    order of operations (level 1: ``What is 3+4?``),
/percent, /ratio                fractions, percents, ratios
precalculus/trig, /dot, /det    special-angle trig values, dot products, determinants
gsm8k/add, /money, /rate,       word problems with integer answers (steps grow with
/time                           the level)
digits/units, /tens, /leading,  place value and parity (the CPU demo's topics: learnable
/parity                         by a tiny char-level model, large question spaces)
==============================  ===================================================

Examples:
    >>> items = generate("number_theory/mod", 3, seed=0, level=2)  # doctest: +SKIP
    >>> items[0]["question"], items[0]["answer"]  # doctest: +SKIP
"""

from __future__ import annotations

import random

from harness.errors import ConfigError, did_you_mean
from synth.generators import algebra as _a
from synth.generators import digits as _d
from synth.generators import gsm8k as _g
from synth.generators import numbers as _n
from synth.generators.base import Generator, GenFn

__all__ = ["GENERATORS", "SUBJECT_TOPICS", "Generator", "generate", "topics_for"]


def _reg(topic: str, subject: str, fn: GenFn, version: str = "1", family: str = "math") -> Generator:
    return Generator(topic, subject, family, version, (fn.__doc__ or topic).strip().splitlines()[0], fn)


_ALL = [
    _reg("algebra/linear", "Algebra", _a.linear),
    _reg("algebra/system", "Algebra", _a.system),
    _reg("algebra/quadratic", "Algebra", _a.quadratic),
    _reg("algebra/series", "Algebra", _a.arith_series),
    _reg("counting/comb", "Counting & Probability", _a.combinations),
    _reg("counting/arrange", "Counting & Probability", _a.arrangements),
    _reg("counting/draw", "Counting & Probability", _a.draw_probability),
    _reg("counting/dice", "Counting & Probability", _a.dice),
    _reg("geometry/pythag", "Geometry", _a.pythagoras),
    _reg("geometry/area", "Geometry", _a.triangle_area),
    _reg("geometry/circle", "Geometry", _a.circle),
    _reg("intermediate/remainder", "Intermediate Algebra", _n.remainder),
    _reg("intermediate/vieta", "Intermediate Algebra", _n.vieta),
    _reg("intermediate/sums", "Intermediate Algebra", _n.sums),
    _reg("number_theory/gcd", "Number Theory", _n.gcd),
    _reg("number_theory/lcm", "Number Theory", _n.lcm),
    _reg("number_theory/mod", "Number Theory", _n.mod),
    _reg("number_theory/divisors", "Number Theory", _n.divisors),
    _reg("number_theory/base", "Number Theory", _n.base_convert),
    _reg("prealgebra/arith", "Prealgebra", _n.arith),
    _reg("prealgebra/fraction", "Prealgebra", _n.fractions_),
    _reg("prealgebra/percent", "Prealgebra", _n.percent),
    _reg("prealgebra/ratio", "Prealgebra", _n.ratio),
    _reg("precalculus/trig", "Precalculus", _n.trig),
    _reg("precalculus/dot", "Precalculus", _n.dot),
    _reg("precalculus/det", "Precalculus", _n.determinant),
    _reg("gsm8k/add", "GSM8K", _g.add, family="gsm8k"),
    _reg("gsm8k/money", "GSM8K", _g.money, family="gsm8k"),
    _reg("gsm8k/rate", "GSM8K", _g.rate, family="gsm8k"),
    _reg("gsm8k/time", "GSM8K", _g.time_, family="gsm8k"),
    _reg("digits/units", "Place Value", _d.units),
    _reg("digits/tens", "Place Value", _d.tens),
    _reg("digits/leading", "Place Value", _d.leading),
    _reg("digits/parity", "Place Value", _d.parity),
]

#: topic -> generator.
GENERATORS: dict[str, Generator] = {g.topic: g for g in _ALL}

#: MATH subject (or "GSM8K") -> its topics, for mapping weak cells to generators.
SUBJECT_TOPICS: dict[str, list[str]] = {}
for _g_ in _ALL:
    SUBJECT_TOPICS.setdefault(_g_.subject, []).append(_g_.topic)


def topics_for(subject: str | None) -> list[str]:
    """The generator topics for a MATH subject or "GSM8K" (case-insensitive), or ``[subject]`` when the
    subject is itself a topic name (benchmarks made by the generators use the topic as subject); [] when none."""
    if subject in GENERATORS:
        return [str(subject)]
    for s, t in SUBJECT_TOPICS.items():
        if subject is not None and s.lower() == str(subject).lower():
            return list(t)
    return []


def generate(topic: str, n: int, seed: int = 0, level: int = 1) -> list[dict]:
    """Make ``n`` problems of one topic.

    Args:
        topic: a key of :data:`GENERATORS`, e.g. ``"gsm8k/add"``.
        n: how many.
        seed: the same (topic, seed, level) always gives the same items.
        level: difficulty 1-5.

    Returns:
        Dicts with ``id, question, solution, answer, subject, level, task`` (answer family
        ``math``/``gsm8k``), ``generator``, ``generator_version`` and ``meta`` (the parameters).

    Raises:
        ConfigError: unknown topic, level outside 1-5, or negative n.
    """
    if topic not in GENERATORS:
        raise ConfigError(did_you_mean(topic, GENERATORS, "generator topic"))
    if level not in (1, 2, 3, 4, 5) or n < 0:
        raise ConfigError(f"Expected level in 1-5 and n >= 0, found level={level!r}, n={n!r}.")
    g = GENERATORS[topic]
    rng = random.Random(f"{topic}|{level}|{seed}")
    out = []
    for i in range(n):
        q, sol, ans, meta = g.fn(rng, level)
        out.append({
            "id": f"{topic}/L{level}/s{seed}/{i}",
            "question": q,
            "solution": sol,
            "answer": ans,
            "subject": g.subject,
            "level": level,
            "task": g.family,
            "generator": topic,
            "generator_version": g.version,
            "meta": meta,
        })
    return out
