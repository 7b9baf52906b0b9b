"""Self-consistency of the grader over the real benchmark data (uses the ``data_dir`` fixture).

1. Every reference answer of MATH test+train and GSM8K test+train, wrapped as a model writes it
   ("... The answer is $\\boxed{GOLD}$." / "... #### GOLD"), grades ``correct`` through
   ``harness.answers.grade``, and stays correct under harmless rewrites (spacing, ``\\dfrac``,
   ``\\left(``/``\\right)``, ``\\left[``/``\\right]``, ``\\text``->``\\mbox``, unwrapping ``\\text{}``,
   dropping a trailing ``\\text{ unit}``). Every exception is listed in ``EXCEPTIONS`` with its
   reason.
2. No false positives: 20,000 random pairs of MATH reference answers of DIFFERENT problems, and
   5,000 GSM8K pairs (fixed seeds), are judged unequal unless an independent check says they are
   truly equal (identical normalized strings, equal simple numbers, or Math-Verify agreeing).

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_self_consistency.py``.
"""

from __future__ import annotations

import random
import re
import time
from fractions import Fraction

import pytest

from harness.answers import grade
from harness.answers.equiv import compare
from harness.answers.types import AnswerTimeout, Budget
from harness.data import load_task

SPLITS = [("math", "test"), ("math", "train"), ("gsm8k", "test"), ("gsm8k", "train")]

# Rows skipped entirely, with the reason.
SKIPPED = {
    "train/number_theory/7115.json": "empty \\boxed{} upstream: no reference answer",
    "train/number_theory/7117.json": "empty \\boxed{} upstream: no reference answer",
}

# (problem id, rewrite) -> reason the rewrite is NOT harmless for this answer.
EXCEPTIONS = {
    ("test/algebra/1900.json", "dropunit"): "'9\\text{ a.m.}': a.m. is part of the answer, not a unit",
    ("train/number_theory/105.json", "dropunit"): "'4:51:06 \\text{ p.m.}': p.m. is part of the answer",
    ("train/number_theory/837.json", "dropunit"): "'8:34 \\text{ p.m.}': p.m. is part of the answer",
}


def _rewrites(g: str) -> dict[str, str]:
    out = {"id": g}
    out["dfrac"] = re.sub(r"\\frac(?![a-z])", r"\\dfrac", g)
    out["left"] = re.sub(r"(?<!\\left)(?<![\\a-z])\(", r"\\left(",
                         re.sub(r"(?<!\\right)(?<![\\a-z])\)", r"\\right)", g))
    out["lbrack"] = re.sub(r"(?<![\\a-z])\[", r"\\left[", re.sub(r"(?<![\\a-z])\]", r"\\right]", g))
    if "\\text" not in g and "\\mbox" not in g and "\\ " not in g:
        out["nospace"] = re.sub(r"(?<=[^a-zA-Z\s\\])\s+|\s+(?=[^a-zA-Z\s])", "", g)
    out["space"] = re.sub(r"([=+])", r" \1 ", g)
    if "\\text" in g:
        out["mbox"] = re.sub(r"\\text\s*\{", r"\\mbox{", g)
        out["unwrap"] = re.sub(r"\\(?:text|mbox|textbf|mathrm)\s*\{([^{}]*)\}", r" \1 ", g)
        drop = re.sub(r"(?<=[\d}])\s*\\(?:text|mbox)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}(\^\d|\^\{\d\})?\s*\.?$",
                      "", g)
        if drop != g:
            out["dropunit"] = drop
    return out


def _wrap(ans: str, task: str) -> str:
    if task == "gsm8k":
        return f"She pays 3 times, so in total...\n#### {ans}"
    return f"Combining the cases, the answer is $\\boxed{{{ans}}}$."


def _problems(data_dir, task, split):
    return load_task(task, split, data_dir_=data_dir)


@pytest.mark.slow
@pytest.mark.parametrize("task,split", SPLITS)
def test_reference_answers_grade_correct(data_dir, task, split):
    problems = _problems(data_dir, task, split)
    assert len(problems) in (1319, 7473, 5000, 7500)
    failures, n, skipped = [], 0, 0
    used_exceptions = set()
    t0 = time.monotonic()
    for p in problems:
        if p.id in SKIPPED:
            assert p.answer == "", f"{p.id} now has a gold answer: remove it from SKIPPED"
            skipped += 1
            continue
        golds = p.answer if isinstance(p.answer, tuple) else (p.answer,)
        for g in golds:
            for name, variant in _rewrites(g).items():
                n += 1
                r = grade(_wrap(variant, task), p.answer, task)
                if r.status != "correct":
                    if (p.id, name) in EXCEPTIONS:
                        used_exceptions.add((p.id, name))
                        continue
                    failures.append((p.id, name, g, variant, r.status, r.extracted))
    rate = n / (time.monotonic() - t0)
    print(f"\n{task}/{split}: {n} graded ({rate:,.0f}/s), {skipped} skipped, "
          f"{len(used_exceptions)} listed exceptions, {len(failures)} failures")
    assert not failures, "\n".join(map(repr, failures[:20]))
    stale = {k for k in EXCEPTIONS if k[0] in {p.id for p in problems}} - used_exceptions
    assert not stale, f"exceptions no longer needed (remove them): {stale}"


# --- false positives -------------------------------------------------------------------------

_SIMPLE = re.compile(r"^(-?)(\d+(?:\.\d+)?)$|^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$|^(-?)(\d+)/(\d+)$")


def _simple_value(s: str) -> Fraction | None:
    """An independent reading of plain numbers: 12, -3.5, \\frac{1}{2}, 3/4 (units stripped)."""
    s = re.sub(r"\\(?:text|mbox)\{[^{}]*\}(\^\d)?|\\\$|\$|\^\\circ|\^\{\\circ\}|\\%|\s|,\\!|\{,\}", "", s)
    m = _SIMPLE.match(s)
    if not m:
        return None
    if m.group(2):
        v = Fraction(m.group(2))
        return -v if m.group(1) else v
    if m.group(4):
        if int(m.group(5)) == 0:
            return None
        v = Fraction(int(m.group(4)), int(m.group(5)))
        return -v if m.group(3) else v
    if int(m.group(8)) == 0:
        return None
    v = Fraction(int(m.group(7)), int(m.group(8)))
    return -v if m.group(6) else v


def _truly_equal(a: str, b: str) -> bool:
    if "".join(a.split()) == "".join(b.split()):
        return True
    va, vb = _simple_value(a), _simple_value(b)
    if va is not None and vb is not None:
        return va == vb
    from math_verify import parse, verify  # an independent second opinion (a different engine)

    return bool(verify(parse(f"${a}$"), parse(f"${b}$")) and verify(parse(f"${b}$"), parse(f"${a}$")))


def _pairs(golds: list[tuple[str, str]], n: int, seed: int):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        (ia, a), (ib, b) = rng.sample(golds, 2)
        if ia != ib:
            out.append((a, b))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("task,n_pairs,seed", [("math", 20000, 2024), ("gsm8k", 5000, 2025)])
def test_no_false_positives_on_random_pairs(data_dir, task, n_pairs, seed):
    golds = []
    for split in ("test", "train"):
        for p in _problems(data_dir, task, split):
            for g in (p.answer if isinstance(p.answer, tuple) else (p.answer,)):
                if g:
                    golds.append((p.id + split, g))
    positives, false_positives, timeouts = [], [], 0
    t0 = time.monotonic()
    for a, b in _pairs(golds, n_pairs, seed):
        try:
            equal = compare(a, b, task, Budget())
        except AnswerTimeout:
            timeouts += 1
            continue
        if equal:
            positives.append((a, b))
            if not _truly_equal(a, b):
                false_positives.append((a, b))
    rate = n_pairs / (time.monotonic() - t0)
    print(f"\n{task}: {n_pairs} random pairs ({rate:,.0f}/s): {len(positives)} judged equal, "
          f"{len(false_positives)} false positives, {timeouts} timeouts")
    assert false_positives == [], false_positives
    assert timeouts == 0
