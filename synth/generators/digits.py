"""Place-value problems (units, tens and leading digit, parity) with exact answers.

These are the topics of the CPU demo (``harness loop --preset demo``): each answer is read off one
position of the number, so a ~0.5M-parameter character-level model learns a topic in a few hundred
optimizer steps, while the question space (numbers of ``level + 2`` to ``level + 4`` digits) is large
enough that a held-out benchmark and the synthetic training data do not overlap.
"""

from __future__ import annotations

import random


def _number(rng: random.Random, level: int) -> int:
    digits = rng.randint(level + 2, level + 4)
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


def units(rng: random.Random, level: int):
    """The units digit of a number."""
    n = _number(rng, level)
    return f"What is the units digit of {n}?", f"{n} ends in {n % 10}.", str(n % 10), {"n": n}


def tens(rng: random.Random, level: int):
    """The tens digit of a number."""
    n = _number(rng, level)
    d = (n // 10) % 10
    return f"What is the tens digit of {n}?", f"The tens digit of {n} is {d}.", str(d), {"n": n}


def leading(rng: random.Random, level: int):
    """The leading (leftmost) digit of a number."""
    n = _number(rng, level)
    d = int(str(n)[0])
    return f"What is the leading digit of {n}?", f"{n} starts with {d}.", str(d), {"n": n}


def parity(rng: random.Random, level: int):
    """Whether a number is even or odd (a text answer)."""
    n = _number(rng, level)
    word = "even" if n % 2 == 0 else "odd"
    return (f"Is {n} even or odd?", f"{n} ends in {n % 10}, so it is {word}.", f"\\text{{{word}}}", {"n": n})
