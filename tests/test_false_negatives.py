"""Grader false negatives of issue 20 item 5, each as golden cases in BOTH directions (the right
answer graded ``correct``, a nearby wrong value ``wrong``), and the rule behind the last of them:
a status reached past a size or step limit is ``timeout``, never ``wrong`` or ``correct``.

- Unicode decimal digits (full-width ``１２``, Arabic-Indic ``١٢``, Devanagari) and full-width forms
  read as ASCII in every extraction path and in the lexer;
- ``\\sum`` / ``\\prod`` with numeric bounds evaluated exactly (term by term, or in closed form for
  a polynomial summand: ``\\sum_{k=1}^{10^9} k``);
- unordered lists of more than 64 items (the old ``MAX_ITEMS``) matched in any order;
- ``n!!`` is the double factorial (``7!! = 105``), as MATH uses it.

Property tests (hypothesis) check the limit rule: with a smaller work budget a comparison reaches
the same verdict or ``timeout``; past a size limit (list length, nesting, ``\\pm`` values, sum
terms) the status is ``timeout`` even where the answer is right.

Run: ``python3 -m pytest -q tests/test_false_negatives.py``.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.answers import equiv, grade, values
from harness.answers.equiv import compare
from harness.answers.extract import extract
from harness.answers.types import DEFAULT_STEPS, AnswerTimeout, Budget


def _boxed(ans: str) -> str:
    return f"So the answer is $\\boxed{{{ans}}}$."


def _outcome(pred: str, gold: str, steps: int = DEFAULT_STEPS) -> object:
    """compare() as a value: True, False or "timeout"."""
    try:
        return compare(pred, gold, "math", Budget(steps))
    except AnswerTimeout:
        return "timeout"


# (model output, gold, task, mode, expected status): each right answer next to a near miss
UNICODE_DIGITS = [
    (_boxed("１２"), "12", "math", "strict", "correct"),
    (_boxed("１３"), "12", "math", "strict", "wrong"),
    (_boxed("12"), "１２", "math", "strict", "correct"),  # a gold written in full-width digits
    (_boxed("١٢"), "12", "math", "strict", "correct"),  # Arabic-Indic
    (_boxed("١٣"), "12", "math", "strict", "wrong"),
    (_boxed("۱۲"), "12", "math", "strict", "correct"),  # Extended Arabic-Indic (Persian)
    (_boxed("१२"), "12", "math", "strict", "correct"),  # Devanagari
    (_boxed("\\frac{１}{２}"), "0.5", "math", "strict", "correct"),
    (_boxed("\\frac{１}{３}"), "0.5", "math", "strict", "wrong"),
    (_boxed("－３"), "-3", "math", "strict", "correct"),  # full-width minus sign and digit
    (_boxed("（１，２）"), "(1, 2)", "math", "strict", "correct"),  # full-width brackets and comma
    (_boxed("（２，１）"), "(1, 2)", "math", "strict", "wrong"),
    ("The answer is ١٢.", "12", "math", "strict", "correct"),
    ("The answer is ١٥.", "12", "math", "strict", "wrong"),
    ("She has 3 apples.\n#### ７２", "72", "gsm8k", "strict", "correct"),
    ("She has 3 apples.\n#### ７３", "72", "gsm8k", "strict", "wrong"),
    ("Adding them up gives ٤٢", "42", "gsm8k", "flexible", "correct"),  # the last-number fallback
    ("Adding them up gives ٤٣", "42", "gsm8k", "flexible", "wrong"),
    ("so the final answer is ２５", "25", "math", "flexible", "correct"),
    ("so the final answer is ２６", "25", "math", "flexible", "wrong"),
    (_boxed("x^２"), "x^2", "math", "strict", "correct"),
    (_boxed("x²"), "2x", "math", "strict", "wrong"),  # a superscript is not a digit: never "x2"
]

SUMS_PRODUCTS = [
    (_boxed("\\sum_{k=1}^{3} k"), "6", "correct"),
    (_boxed("\\sum_{k=1}^{3} k"), "7", "wrong"),
    (_boxed("6"), "\\sum_{k=1}^{3} k", "correct"),
    (_boxed("\\displaystyle\\sum\\limits_{k=0}^{3} 2^k"), "15", "correct"),
    (_boxed("\\sum_{k=0}^{3} 2^k"), "16", "wrong"),
    (_boxed("\\sum_{i=1}^{4} i^2"), "30", "correct"),  # the index i is not the imaginary unit
    (_boxed("\\sum_{i=1}^{4} i^2"), "30i", "wrong"),
    (_boxed("\\sum_{n=1}^{10} \\frac{1}{n(n+1)}"), "\\frac{10}{11}", "correct"),
    (_boxed("\\sum_{n=1}^{10} \\frac{1}{n(n+1)}"), "\\frac{9}{10}", "wrong"),
    (_boxed("\\prod_{k=1}^{5} k"), "120", "correct"),
    (_boxed("\\prod_{k=1}^{5} k"), "5!", "correct"),
    (_boxed("\\prod_{k=1}^{5} k"), "121", "wrong"),
    (_boxed("\\prod_{k=2}^{4} \\frac{k}{k-1}"), "4", "correct"),
    (_boxed("\\sum_{k=1}^{3} 2k + 1"), "13", "correct"),  # the summand is 2k; "+ 1" is outside
    (_boxed("\\sum_{k=1}^{3} 2k + 1"), "18", "wrong"),
    (_boxed("\\sum_{k=1}^{10^9} k"), "500000000500000000", "correct"),  # closed form, exact
    (_boxed("\\sum_{k=1}^{10^9} k"), "500000000500000001", "wrong"),
    (_boxed("\\sum_{k=1}^{1000} k^3"), "250500250000", "correct"),
    (_boxed("\\sum_{k=1}^{1000} k^3"), "250500250001", "wrong"),
    (_boxed("\\sum_{k=1}^{100} k\\sqrt{2}"), "5050\\sqrt2", "correct"),
    (_boxed("\\sum_{k=1}^{100} k\\sqrt{2}"), "5051\\sqrt2", "wrong"),
    (_boxed("\\sum_{k=1}^{3} x^k"), "x^3+x^2+x", "correct"),
    (_boxed("\\sum_{k=1}^{3} x^k"), "x^3+x^2", "wrong"),
    (_boxed("\\sum_{k=1}^{10^9} \\sin k"), "1", "timeout"),  # 10^9 terms, no closed form: undecided
    (_boxed("\\sum_{k=1}^{n} k"), "\\sum_{k=1}^{n} k", "correct"),  # symbolic bounds: as written
]

DOUBLE_FACTORIALS = [
    (_boxed("7!!"), "105", "correct"),
    (_boxed("105"), "7!!", "correct"),
    (_boxed("7!!"), "5040", "wrong"),
    (_boxed("7!!"), "106", "wrong"),
    (_boxed("9!!"), "945", "correct"),
    (_boxed("9!!"), "946", "wrong"),
    (_boxed("8!!"), "384", "correct"),
    (_boxed("8!!"), "2^4 \\cdot 4!", "correct"),
    (_boxed("0!!"), "1", "correct"),
    (_boxed("(3!)!"), "720", "correct"),  # the factorial of a factorial, written with brackets
    (_boxed("(3!)!"), "3!!", "wrong"),
]


@pytest.mark.parametrize("output,gold,task,mode,expected", UNICODE_DIGITS,
                         ids=[f"{o[-14:]}|{g}|{m}" for o, g, _, m, _ in UNICODE_DIGITS])
def test_unicode_digits(output, gold, task, mode, expected):
    assert grade(output, gold, task, mode).status == expected


def test_unicode_digits_extracted_as_ascii():
    assert extract(_boxed("１２"), "math", "strict") == "12"
    assert extract("Final total: ٣٤ apples", "gsm8k", "flexible") == "34"


@pytest.mark.parametrize("output,gold,expected", SUMS_PRODUCTS, ids=[f"{o[23:-3]}|{g}" for o, g, _ in SUMS_PRODUCTS])
def test_sums_and_products(output, gold, expected):
    assert grade(output, gold, "math").status == expected


@pytest.mark.parametrize("output,gold,expected", DOUBLE_FACTORIALS,
                         ids=[f"{o[23:-3]}|{g}" for o, g, _ in DOUBLE_FACTORIALS])
def test_double_factorials(output, gold, expected):
    assert grade(output, gold, "math").status == expected


_ROOTS = [f"\\sqrt{{{k}}}" for k in range(2, 82)]


@pytest.mark.parametrize("n", [65, 100, 200])
def test_long_unordered_lists(n):
    """More than the old 64-item cap: the same list in another order is correct; one item changed
    is wrong (not timeout: the budget decides lists this long)."""
    items = [str(k) for k in range(n)]
    shuffled = items[:]
    random.Random(n).shuffle(shuffled)
    assert grade(_boxed(", ".join(shuffled)), ", ".join(items)).status == "correct"
    changed = shuffled[:]
    changed[n // 2] = str(n + 7)
    assert grade(_boxed(", ".join(changed)), ", ".join(items)).status == "wrong"


def test_long_list_of_irrationals_shuffled():
    shuffled = _ROOTS[1::2] + _ROOTS[::2]
    assert grade(_boxed(", ".join(shuffled)), ", ".join(_ROOTS)).status == "correct"
    off = [r.replace("{81}", "{83}") for r in shuffled]
    assert grade(_boxed(", ".join(off)), ", ".join(_ROOTS)).status == "wrong"


def test_list_past_the_item_limit_is_timeout(monkeypatch):
    """Past MAX_ITEMS a list is too large to decide: timeout, for the right answer too."""
    monkeypatch.setattr(equiv, "MAX_ITEMS", 10)
    items = [str(k) for k in range(12)]
    assert grade(_boxed(", ".join(reversed(items))), ", ".join(items)).status == "timeout"
    assert grade(_boxed(", ".join(items[:11] + ["99"])), ", ".join(items)).status == "timeout"
    assert grade(_boxed(", ".join(items[:10])), ", ".join(items[:10])).status == "correct"  # same text


def test_sum_past_the_term_limit_is_timeout(monkeypatch):
    monkeypatch.setattr(values, "MAX_SUM_TERMS", 50)
    split = "\\sum_{k=1}^{30} \\sin k + \\sum_{k=31}^{%d} \\sin k"
    assert grade(_boxed("\\sum_{k=1}^{60} \\sin k"), split % 60).status == "timeout"
    assert grade(_boxed("\\sum_{k=1}^{60} \\sin k"), split % 59).status == "timeout"
    assert grade(_boxed("\\sum_{k=1}^{40} \\sin k"), split % 40).status == "correct"
    assert grade(_boxed("\\sum_{k=1}^{40} \\sin k"), split % 39).status == "wrong"


def test_pm_past_the_variant_limit_is_timeout():
    """Four factors with ``\\pm`` stand for 16 values (over MAX_PM_VARIANTS): timeout, not wrong."""
    values16 = sorted({a * b * c * d for a in (1, 3) for b in (1, 5) for c in (1, 9) for d in (-1, 1)})
    many = "(2 \\pm 1)(3 \\pm 2)(5 \\pm 4)(\\pm 1)"
    assert _outcome(many, ", ".join(map(str, values16))) == "timeout"
    assert _outcome("(2 \\pm 1)(\\pm 1)", "3, 1, -1, -3") is True
    assert _outcome("(2 \\pm 1)(\\pm 1)", "3, 1, -1, -2") is False


def test_many_symbols_is_timeout():
    a = "+".join(f"x_{{{i}}}^2" for i in range(17))
    b = "+".join(f"x_{{{i}}}^2" for i in reversed(range(17)))
    assert _outcome(a, b) == "timeout"  # 17 free symbols: more than the random points cover
    assert _outcome(a, b + "+1") == "timeout"
    assert _outcome(a, a.replace(" ", "")) is True  # the same text: equal
    a16 = "+".join(f"x_{{{i}}}^2" for i in range(16))
    assert _outcome(a16, "+".join(f"x_{{{i}}}^2" for i in reversed(range(16)))) is True  # 16 symbols


SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
ATOMS = st.sampled_from(["1", "2", "7", "\\frac{1}{3}", "\\sqrt{2}", "\\sqrt{8}", "2\\sqrt{2}", "\\pi",
                         "x", "x^2", "(x+1)^2", "0.5", "3!", "5!!", "e", "\\sin 1", "\\binom{7}{3}",
                         "\\sum_{k=1}^{4} k", "10^{30}", "2^{100000}"])
EXPR = st.recursive(ATOMS, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["+", "-", "\\cdot ", "/"]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
    st.lists(inner, min_size=2, max_size=6).map(", ".join)), max_leaves=12)


@SETTINGS
@given(EXPR, EXPR, st.integers(min_value=0, max_value=400))
def test_property_less_budget_is_same_verdict_or_timeout(a, b, steps):
    """Running out of steps never yields a verdict the full budget would not: every decision made
    under a smaller budget is the full budget's decision."""
    full = _outcome(a, b)
    assert _outcome(a, b, steps) in (full, "timeout")
    assert _outcome(a, a, steps) in (True, "timeout")


@SETTINGS
@given(st.integers(min_value=0, max_value=120), st.sampled_from(["1", "\\frac{2}{3}"]))
def test_property_past_the_nesting_limit_is_timeout(depth, x):
    """``{{...x...}}`` is x at any depth: correct within the reader's limits, timeout past them."""
    nested = "{" * depth + x + "}" * depth
    assert _outcome(nested, x) in (True, "timeout")
    assert _outcome(nested, x) is True or depth > equiv.MAX_NESTING - 2
    assert _outcome(nested, "5") in (False, "timeout")


@SETTINGS
@given(st.integers(min_value=0, max_value=1600))
def test_property_repeated_signs_are_decided_or_timeout(n):
    """``--...-1`` is 1 for an even count of signs, -1 for an odd one; past the parser's depth the
    answer is timeout, never the wrong verdict (1.2 said "wrong" for 1,500 signs)."""
    pred = "-" * n + "1"
    assert _outcome(pred, "1") in (n % 2 == 0, "timeout")
    assert _outcome(pred, "-1") in (n % 2 == 1, "timeout")


@SETTINGS
@given(st.lists(st.integers(min_value=-50, max_value=50), min_size=1, max_size=40, unique=True),
       st.integers(min_value=1, max_value=40), st.randoms(use_true_random=False))
def test_property_list_limit(items, limit, rnd):
    """A list over a (patched) MAX_ITEMS is timeout, the same list in another order is correct
    within it; a list with one item changed is wrong within it, timeout past it."""
    shuffled = items[:]
    rnd.shuffle(shuffled)
    changed = shuffled[:]
    changed[0] = 99
    old = equiv.MAX_ITEMS
    equiv.MAX_ITEMS = limit
    try:
        same, other = _outcome(", ".join(map(str, shuffled)), ", ".join(map(str, items))), \
            _outcome(", ".join(map(str, changed)), ", ".join(map(str, items)))
    finally:
        equiv.MAX_ITEMS = old
    over = len(items) > limit and len(items) > 1
    assert same == ("timeout" if over and shuffled != items else True)
    assert other == ("timeout" if over else False)
