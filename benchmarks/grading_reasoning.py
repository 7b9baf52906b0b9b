"""Sets "r" and "m" of the grader benchmark: reasoning-model outputs, and Math-Verify's own suite.

Set r (built from MATH test golds, seeded): long outputs the way reasoning models write them, a
``<think>`` block of about 10,000 characters full of tentative boxes and numbers, then the answer:

- ``r-final`` the block holds a wrong tentative box; the answer after ``</think>`` is the gold
  (rewritten harmlessly, as set b does) -> equal;
- ``r-decoy`` the block holds the gold; the answer after it is a perturbed gold (set d) -> unequal;
- ``r-cut``   the model ran out of tokens inside the block (no ``</think>``) after boxing the gold
  -> unequal (there is no answer);
- ``r-boxes`` a gold list ``a, b`` answered as ``\\boxed{a} \\quad \\text{and} \\quad \\boxed{b}``
  -> equal; answered with one box of the two -> unequal.

Set m: the 269 cases of Math-Verify 0.9.0's public regression suite (``tests/data/mathverify_cases.jsonl``;
provenance in ``tests/data/README.md``), labelled with Math-Verify's own expected verdicts. Our gold
is ``reference_answer(gold text)``; Math-Verify parses the gold text itself, as its tests do.

Used by benchmarks/grading.py.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

MV_CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "mathverify_cases.jsonl"
THINK_CHARS = 10_000


def _filler(rng: random.Random, decoy: str) -> str:
    """About THINK_CHARS characters of reasoning with numbers, equations and tentative boxes."""
    parts: list[str] = []
    size = 0
    while size < THINK_CHARS:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        step = rng.choice([
            f"Let me try $x = {a}$: then $x^2 - {b} = {a * a - b}$, which does not fit. ",
            f"Hmm, maybe the answer is $\\boxed{{{a + b}}}$? Wait, I should check that again. ",
            f"We have $\\frac{{{a}}}{{{b}}}$ here, and {a} + {b} = {a + b}. ",
            f"So far I think it is {decoy}, but let me verify: $\\boxed{{{decoy}}}$. Actually, no. ",
            "Alternatively, consider the symmetric case. ",
        ])
        parts.append(step)
        size += len(step)
    return "".join(parts)


def _split_list(gold: str) -> list[str] | None:
    """``-2, 1`` -> ["-2", "1"]: a list of two or three plain items (no brackets, braces or
    commands), else None."""
    if re.search(r"[()\[\]{}\\]", gold):
        return None  # plain lists only (not "8{,}880", "111,\\! 111", tuples or sets)
    items = [x.strip() for x in gold.split(",")]
    if not 2 <= len(items) <= 3 or not all(items) or any(re.fullmatch(r"\d{3}", x) for x in items[1:]):
        return None
    return items


def reasoning_items(golds: list[str], n: int, seed: int,
                    rewrite: Callable[[str], str | None], perturb: Callable[[str, random.Random], str | None]
                    ) -> list[tuple[str, str, str, bool]]:
    """(kind, gold, output, expected) tuples, about ``n`` of them (kinds as in the module docstring).

    Args:
        golds: MATH test gold answers.
        n: number of outputs.
        seed: random seed.
        rewrite: a harmless rewrite of a gold (or None), as set b uses.
        perturb: a perturbed (different) gold (or None), as set d uses.
    """
    rng = random.Random(seed)
    pool = golds[:]
    rng.shuffle(pool)
    lists = [g for g in pool if _split_list(g)]
    out: list[tuple[str, str, str, bool]] = []
    i = 0
    while len(out) < n and i < 50 * n:
        g = pool[i % len(pool)]
        i += 1
        kind = rng.choice(["r-final", "r-final", "r-decoy", "r-decoy", "r-cut", "r-boxes"])
        wrong = perturb(g, rng)
        if wrong is None:
            continue
        if kind == "r-final":
            final = rewrite(g) or g
            text = f"<think>\n{_filler(rng, wrong)}\n</think>\n\nPutting it together, the answer is $\\boxed{{{final}}}$."
            out.append((kind, g, text, True))
        elif kind == "r-decoy":
            text = f"<think>\n{_filler(rng, g)}\n</think>\n\nPutting it together, the answer is $\\boxed{{{wrong}}}$."
            out.append((kind, g, text, False))
        elif kind == "r-cut":
            out.append((kind, g, f"<think>\n{_filler(rng, wrong)} So it must be $\\boxed{{{g}}}$, let me", False))
        elif lists:
            lg = lists[len(out) % len(lists)]
            items = _split_list(lg) or []
            full = rng.random() < 0.6
            shown = items if full else items[:-1]
            boxes = " \\quad \\text{and} \\quad ".join(f"\\boxed{{{x}}}" for x in shown)
            text = f"<think>\n{_filler(rng, items[0])}\n</think>\n\nThe solutions are $${boxes}$$"
            out.append((kind, lg, text, full))
    return out


def mathverify_cases() -> list[dict]:
    """Math-Verify's suite as data: dicts with id, gold (text), output, mv (expected verdict)."""
    return [json.loads(line) for line in MV_CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
