"""Self-consistency of the grader over the competition and robustness sets (real data, ``data_dir`` fixture).

1. Every gold of aime24, aime25, amc23, minerva_math, olympiadbench and svamp, written as a model
   writes it (``... the answer is $\\boxed{GOLD}$.``), grades ``correct`` through
   ``harness.answers.grade`` with the task's answer rules, and stays correct under harmless rewrites:
   spacing, ``\\dfrac``, ``\\left(``/``\\right)``, a display box, and per task the forms models use for
   numbers (``27.0``, AIME's ``025``, ``1{,}000``, ``4.5 \\times 10^{33}`` for ``4.5e33``), the
   problem's unit (OlympiadBench ``unit``; a ``\\mathrm{~cm}`` after a Minerva number) and, for SVAMP,
   the GSM8K formats (``The answer is N.``, ``#### N``). Any failure is listed with the exact gold.
2. No false positives: random pairs of golds of different problems within each task (fixed seeds)
   are unequal unless an independent check says the two golds are truly the same value.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_self_consistency_tasks.py``.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction

import pytest

from harness.answers import grade
from harness.data import TASKS, load_task

NEW_TASKS = ("aime24", "aime25", "amc23", "minerva_math", "olympiadbench", "svamp")

# (task, problem id, rewrite) -> why this rewrite is not harmless for that gold (grader limitations
# are not listed here: they fail the test and are reported).
EXCEPTIONS: dict[tuple[str, str, str], str] = {}

_SCI = re.compile(r"^(-?\d+(?:\.\d+)?)e([+-]?\d+)$")
_INT = re.compile(r"^-?\d+$")


def _number(g: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", g))


def variants(task: str, gold: str, unit: str | None) -> dict[str, str]:
    """Harmless ways a model writes ``gold`` (the box content), by name."""
    out = {"id": gold, "spaced": re.sub(r"\s*([=+,])\s*", r" \1 ", gold)}
    if "\\frac" in gold:
        out["dfrac"] = gold.replace("\\frac", "\\dfrac")
    if "(" in gold:
        out["left"] = re.sub(r"(?<!\\right)\)", r"\\right)", re.sub(r"(?<!\\left)\(", r"\\left(", gold))
    if _INT.match(gold):
        out["point0"] = f"{gold}.0"
        if len(gold.lstrip("-")) >= 4:
            out["thousands"] = f"{int(gold):,}".replace(",", "{,}")
        if task in ("aime24", "aime25"):
            out["pad3"] = gold.zfill(3)
    m = _SCI.match(gold)
    if m:
        out["times10"] = f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}"
    if task == "minerva_math" and _number(gold):
        out["unit"] = f"{out.get('times10', gold)} \\mathrm{{~cm}}"
    if unit:
        u = unit.replace("$", "").strip()
        out["unit"] = gold + (u if u.startswith(("^", "\\", "%")) else f" \\mathrm{{{u}}}" if "^" in u
                              else f" \\text{{ {u}}}")
    return out


def outputs(task: str, ans: str) -> dict[str, str]:
    """Model outputs ending in ``ans`` in the final-answer formats the task's prompts ask for."""
    out = {
        "boxed": f"Combining the cases, the answer is $\\boxed{{{ans}}}$.",
        "display": f"Therefore\n\\[\n\\boxed{{{ans}}}\n\\]",
    }
    if task == "svamp" and _number(ans):
        out["gsm8k-cot"] = f"He has 3 more. The answer is {ans}."
        out["hashes"] = f"3 more\n#### {ans}"
    return out


@pytest.mark.parametrize("task", NEW_TASKS)
def test_every_gold_grades_correct_under_harmless_rewrites(data_dir, task):
    problems = load_task(task, data_dir_=data_dir)
    assert len(problems) == TASKS[task].splits["test"]
    family = TASKS[task].answer_task
    failures, n, used = [], 0, set()
    for p in problems:
        assert isinstance(p.answer, str) and p.answer, p.id
        unit = (p.meta or {}).get("unit")
        for vname, v in variants(task, p.answer, unit).items():
            for oname, text in outputs(task, v).items():
                n += 1
                r = grade(text, p.answer, family)
                if r.status != "correct":
                    if (task, p.id, vname) in EXCEPTIONS:
                        used.add((task, p.id, vname))
                        continue
                    failures.append((p.id, vname, oname, p.answer, v, r.status, r.extracted))
    print(f"\n{task}: {n} grades, {len(failures)} failures")
    assert not failures, "\n".join(map(repr, failures[:30]))
    assert not {k for k in EXCEPTIONS if k[0] == task} - used, "stale EXCEPTIONS entries"


# --- false positives -------------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    """An independent judge of "truly equal golds": plain numbers (12, -3.5, 4.5e33) compared as
    fractions; anything else must be identical up to spacing or equal for Math-Verify both ways."""
    sa, sb = ("".join(x.split()) for x in (a, b))
    if _number(sa) and _number(sb):
        return Fraction(sa) == Fraction(sb)
    if sa == sb:
        return True
    from math_verify import parse, verify  # a second opinion from a different engine

    pa, pb = parse(f"${a}$"), parse(f"${b}$")
    return bool(verify(pa, pb) and verify(pb, pa))


@pytest.mark.parametrize("task", NEW_TASKS)
def test_random_pairs_of_different_golds_are_unequal(data_dir, task):
    problems = load_task(task, data_dir_=data_dir)
    family = TASKS[task].answer_task
    rng = random.Random(f"pairs-{task}")
    n_pairs = min(2000, len(problems) * (len(problems) - 1) // 2)
    false_pos, checked = [], 0
    for _ in range(n_pairs):
        a, b = rng.sample(problems, 2)
        r = grade(f"The answer is $\\boxed{{{a.answer}}}$.", b.answer, family)
        if r.status == "correct" and not _same(a.answer, b.answer):
            false_pos.append((a.id, a.answer, b.id, b.answer))
        checked += r.status != "correct"
    print(f"\n{task}: {n_pairs} pairs, {checked} judged unequal, {len(false_pos)} false positives")
    assert not false_pos, false_pos[:20]
    assert checked > 0.5 * n_pairs  # most pairs differ (AMC and SVAMP repeat some answers)
