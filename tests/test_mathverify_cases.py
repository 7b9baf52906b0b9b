"""Math-Verify's public regression suite (269 cases, ported as data) graded by our engine.

The cases (gold, model output, Math-Verify's expected verdict) come verbatim from the ``tests/`` of
math-verify 0.9.0 (see tests/data/README.md). ``ours`` is our verdict; where it differs from
Math-Verify's the case carries the reason (a deliberate rule, or a stated limitation), and
benchmarks/README.md lists them all.

Protocol (the same in benchmarks/grading.py): the gold text goes through
:func:`harness.answers.extract.reference_answer` (a boxed or worked gold is read like an output;
a short one loses its ``$`` delimiters), the output is graded in ``flexible`` mode.

Run: ``python3 -m pytest -q tests/test_mathverify_cases.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.answers import grade
from harness.answers.extract import reference_answer

DATA = Path(__file__).parent / "data" / "mathverify_cases.jsonl"
CASES = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case):
    gold = reference_answer(case["gold"])
    g = grade(case["output"], gold, "math", "flexible") if gold is not None else None
    verdict = g is not None and g.status == "correct"
    assert g is None or g.status != "error"
    assert verdict is case["ours"], f"{case['id']}: expected {case['ours']} (Math-Verify: {case['mv']})"


def test_every_difference_is_explained_and_agreement_holds():
    assert len(CASES) == 269
    differ = [c for c in CASES if c["ours"] != c["mv"]]
    assert all(c["reason"] for c in differ), [c["id"] for c in differ if not c["reason"]]
    assert all(not c["reason"] for c in CASES if c["ours"] == c["mv"])
    assert len(CASES) - len(differ) >= 252


def test_no_false_positive_direction_added():
    """Where Math-Verify says 'not equal', we say 'equal' only in three documented cases: the 9 of
    ``Answer $ \\n 9 \\n $`` (twice) and the interval [-2, 7] against -2 <= x <= 7."""
    extra = [c["id"] for c in CASES if c["ours"] and not c["mv"]]
    assert extra == ["test_all.py::test_latex_notation[5]", "test_all.py::test_latex_notation[6]",
                     "test_all.py::test_set_rel_assymetry[3]"]
