"""Golden tables for the answer forms of engine 1.3 (olympiad-level outputs; issue 22).

Each rule has cases in both directions (equal and unequal), grouped by phenomenon: spacing
commands, lists joined by words or ``\\quad``, labelled functions, answers in words (lead-ins,
yes/no, labelled extremes, "A or B" alternatives), and exactness. Every table is checked with the
two answers in both orders (the rules are symmetric). A hypothesis property test checks that no
new rule makes two different values equal: random distinct rationals are written in each new form
and must never compare equal, and equal ones must.

Run: python3 -m pytest -q tests/test_olympiad_forms.py
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.answers import ENGINE_VERSION, equivalent, extract_answer, grade
from harness.answers.extract import strip_spacing

OLYMPIAD = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "olympiad_outputs.jsonl"

SPACING = [
    # a box that opens or closes with a spacing command (the trailing \, lost its comma before 1.3)
    (r"\frac{(4\sqrt{3}-1)\pi}{3}", r"\,\dfrac{(4\sqrt{3}-1)\pi}{3}\,", True),
    (r"\frac{(4\sqrt{3}-1)\pi}{3}", r"\,\dfrac{(4\sqrt{3}+1)\pi}{3}\,", False),
    (r"(1,2), (2,1)", r"\, (1,\ 2)\ \text{and}\ (2,\ 1)\,", True),
    (r"(1,2), (2,1)", r"\, (1,\ 2)\ \text{and}\ (2,\ 2)\,", False),
    (r"1, \pm i \sqrt{3}", r"\,1,\;\pm\,\mathrm{i}\sqrt{3}\,", True),
    (r"1, \pm i \sqrt{3}", r"\,1,\;\pm\,\mathrm{i}\sqrt{2}\,", False),
    (r"7", r"\;7\;", True),
    (r"7", r"\quad 7 \qquad", True),
    (r"7", r"~7~", True),
    (r"7", r"\!\:8\!", False),
    # \mathrm / \operatorname constants
    (r"e^2", r"\mathrm{e}^{2}", True),
    (r"e^2", r"\operatorname{e}^{3}", False),
    (r"3 + 4i", r"3 + 4\mathrm{i}", True),
    (r"3 + 4i", r"3 - 4\mathrm{i}", False),
    # display delimiters are math mode, never brackets
    (r"\[ f(x) = x + 1 \]", r"f(x)=x+1", True),
    (r"\[ f(x) = x + 1 \]", r"f(x)=x-1", False),
]

LISTS = [
    (r"(1,2), (2,1)", r"(1,2) \quad (2,1)", True),
    (r"(1,2), (2,1)", r"(2,1) \qquad (2,1)", False),
    (r"(1,2), (2,1)", r"(1,2) \text{ or } (2,1)", True),
    (r"1, 2", r"x = 1 \text{ or } x = 2", True),
    (r"1, 2", r"x = 1 \text{ or } x = 3", False),
    (r"(2,1),(1,2)", r"\text{All solutions are } (1,2) \text{ and } (2,1)", True),
    (r"(2,1),(1,2)", r"\text{All solutions are } (1,2)", False),
    # \quad before a unit word or a connector is spacing, not a separator
    (r"5", r"5 \quad \text{cm}", True),
    (r"1, 2", r"1 \quad \text{and} \quad 2", True),
]

FUNCTIONS = [
    (r"f(n) = kn", r"f(n) = k\,n \text{ for some constant } k", True),
    (r"f(n) = kn", r"f(n) = k\,n^2 \text{ for some constant } k", False),
    (r"g(x) = 2 \text{ for all } x \in \mathbb{N}", r"g(n) = 2 \text{ for all positive integers } n", True),
    (r"g(x) = 2 \text{ for all } x \in \mathbb{N}", r"g(n) = 3 \text{ for all positive integers } n", False),
    (r"f(x) \equiv 0 \text{ or } f(x) \equiv x^2", r"\text{All solutions are } f(x) = x^2 \text{ and } f(x) = 0",
     True),
    (r"f(x) \equiv 0 \text{ or } f(x) \equiv x^2", r"f(x) = x^2", False),
    (r"f(x) \equiv 0 \text{ or } f(x) \equiv x^2", r"f(x) = x^2 \text{ and } f(x) = 1", False),
    (r"f(x) = x", r"f(t) = t", True),
    (r"f(x) = x", r"g(x) = x", False),  # another function's name
    (r"x^2", r"f(x) = x^2", True),  # a bare expression in the same variable
    (r"x^2", r"f(t) = t^2", False),  # ... but not renamed: the bare gold names no variable
    (r"f(a, b) = a + b", r"f(x, y) = x + y", True),
    (r"f(a, b) = b - a", r"f(x, y) = x - y", False),
    (r"f(x) = cx", r"f(x) = cx, \ c \in \mathbb{R}", True),
    (r"f(x) = cx", r"f(x) = cx \ (c \in \mathbb{R})", True),
    (r"f(x) = x", r"f(x) = x \quad \forall x \in \mathbb{R}", True),
    (r"f(x) = x", r"f(x) = x \text{ for } x > 0", False),  # a restriction, not a qualifier
    # cases, array and aligned blocks
    (r"f(x) = \begin{cases} x & \text{if } x \ge 0 \\ -x & x<0 \end{cases}",
     r"f(t) = \begin{cases} -t & t < 0 \\ t & t \geq 0\end{cases}", True),
    (r"f(x) = \begin{cases} x & \text{if } x \ge 0 \\ -x & x<0 \end{cases}",
     r"f(x) = \begin{cases} x & x < 0 \\ -x & x \geq 0\end{cases}", False),
    (r"\begin{array}{l} f(x) = x \\ f(x) = -x \end{array}", r"f(x) = -x \text{ or } f(x) = x", True),
    (r"\begin{array}{l} f(x) = x \\ f(x) = -x \end{array}", r"f(x) = -x \text{ or } f(x) = 2x", False),
    (r"\begin{aligned} f(x) &= x, \\ f(x) &= -x \end{aligned}", r"f(x) = -x,\ f(x) = x", True),
    (r"\begin{aligned} f(x) &= x, \\ f(x) &= -x \end{aligned}", r"f(x) = x", False),
]

WORDS = [
    # yes / no
    (r"\text{No}", r"\text{No such integers exist}", True),
    (r"\text{Yes}", r"\text{No such integers exist}", False),
    (r"\text{Yes}", r"\text{yes}", True),
    (r"\text{No}", r"\text{No for (a), yes for (b)}", False),  # two answers in one
    (r"\text{Yes}", r"\text{Yes, such a coloring exists}", True),  # the comma does not make a list
    (r"\text{No}", r"\text{Yes, such a coloring exists}", False),
    # a value wrapped in words
    (r"12", r"\text{The least such } n \text{ is } 12", True),
    (r"12", r"\text{The least such } n \text{ is } 13", False),
    (r"12", r"\text{The answer is not } 12", False),
    (r"5", r"\text{Answer: } 5", True),
    (r"12", r"\text{at least } 12", False),
    # labelled extremes
    (r"\text{Maximum } 60 \text{ and Minimum } 12", r"12 \text{ (minimum)}, 60 \text{ (maximum)}", True),
    (r"\text{Maximum } 60 \text{ and Minimum } 12", r"12 \text{ (maximum)}, 60 \text{ (minimum)}", False),
    (r"\text{Maximum } 60 \text{ and Minimum } 12",
     r"\text{the minimum value of } n \text{ is } 12, \text{ the maximum value is } 60", True),
    (r"\text{Maximum } 60 \text{ and Minimum } 12", r"\text{the minimum is } 60, \text{ the maximum is } 12", False),
    (r"\text{Maximum } 60 \text{ and Minimum } 12", r"60, 12", True),  # unlabelled: compared as a list
    (r"\text{Maximum } 60 \text{ and Minimum } 12", r"60, 13", False),
    # a gold listing equivalent forms of one value ("either is right")
    (r"65537 \text{ or } 2^{16}+1", r"65537", True),
    (r"65537 \text{ or } 2^{16}+1", r"2^{16}+1", True),
    (r"65537 \text{ or } 2^{16}+1", r"65536", False),
    # ... but "A or B" of two different values is a list of two solutions
    (r"65537 \text{ or } 2^{16}", r"65537", False),
    (r"65537 \text{ or } 2^{16}", r"65536, 65537", True),
]

EXACT = [
    (r"2021^{2019}", r"2020!", False),
    (r"\frac{3 - 3^{-799}}{4}", r"\frac34 - \frac{1}{4\cdot3^{799}}", True),
    # the pair other rule graders accept (float underflow): the signs differ
    (r"\frac{3 - 3^{-799}}{4}", r"\frac34 + \frac{1}{4\cdot3^{800}}", False),
    (r"\frac{3 - 3^{-799}}{4}", r"\frac34 - \frac{1}{4\cdot3^{800}}", False),
]


def _cases(table: list) -> list:
    return [pytest.param(g, a, e, id=f"{i}-{a[:40]}") for i, (g, a, e) in enumerate(table)]


@pytest.mark.parametrize("gold,answer,expected", _cases(SPACING + LISTS + FUNCTIONS + WORDS + EXACT))
def test_forms_both_orders(gold: str, answer: str, expected: bool) -> None:
    assert equivalent(answer, gold) is expected
    assert equivalent(gold, answer) is expected


@pytest.mark.parametrize("gold,answer,expected", _cases(SPACING + FUNCTIONS + WORDS))
def test_forms_in_a_box(gold: str, answer: str, expected: bool) -> None:
    """The same answers as a model writes them (boxed in a sentence), graded end to end."""
    g = grade(f"Putting the cases together, the answer is $\\boxed{{{answer}}}$.", gold)
    assert g.status == ("correct" if expected else "wrong")


def test_exact_verdicts_are_not_timeouts() -> None:
    assert grade(r"So $\boxed{2020!}$.", r"2021^{2019}").status == "wrong"


@pytest.mark.parametrize("box", [r"\,5\,", r"5\,", r"5\;", r"5\!", r"5\ ", r"5\quad", r"5~", r"\qquad 5"])
def test_trailing_spacing_is_never_cut_as_punctuation(box: str) -> None:
    ans = extract_answer(f"Hence $\\boxed{{{box}}}$.", "math")
    assert ans == "5"  # before 1.3 a trailing "\," lost its comma and left a lone "\"


def test_strip_spacing_keeps_an_escaped_character() -> None:
    assert strip_spacing(r"\, x \qquad") == "x"
    assert strip_spacing(r"x\\ ") == r"x\\"  # a row break followed by a space keeps its backslashes
    assert extract_answer(r"So the set is $\boxed{\{1, 2\}}$.", "math") == r"\{1, 2\}"


def test_answer_phrase_inside_the_box_is_not_a_new_answer() -> None:
    out = "Hence\n\\[\n\\boxed{\\text{The answer is } 2017}\n\\]"
    assert extract_answer(out, "math") == r"\text{The answer is } 2017"
    assert grade(out, "2017").status == "correct"
    assert grade(out, "2016").status == "wrong"


def test_olympiad_set_labels_and_verdicts() -> None:
    """The olympiad benchmark set (benchmarks/data/olympiad_outputs.jsonl): every dev output is graded
    as labelled, and no incorrect output in either split is graded correct."""
    rows = [json.loads(line) for line in OLYMPIAD.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 140 and {r["split"] for r in rows} == {"dev", "heldout"}
    for r in rows:
        correct = grade(r["output"], r["gold"]).correct
        if r["label"] == "incorrect":
            assert not correct, r["id"]
        elif r["split"] == "dev":
            assert correct, r["id"]


def test_two_part_question_last_yes_does_not_hide_an_earlier_no() -> None:
    """Part (a) is "No", part (b) "Yes"; the gold of the question is "No"."""
    joined = r"(a) $\boxed{\text{No}}$ and (b) $\boxed{\text{Yes}}$."
    assert extract_answer(joined, "math") == r"\text{No}, \text{Yes}"
    assert grade(joined, r"\text{No}").status == "wrong"
    apart = "(a) No, since parity fails.\n\n(b) The construction works, so $\\boxed{\\text{Yes}}$."
    assert grade(apart, r"\text{No}").status == "wrong"
    assert grade(r"$\boxed{\text{No, but yes for odd } n}$", r"\text{No}").status == "wrong"


def test_engine_version() -> None:
    assert ENGINE_VERSION == "1.3"


# --- property: no new rule makes two different values equal --------------------------------------

_rationals = st.fractions(min_value=-50, max_value=50, max_denominator=12)


def _tex(q: Fraction) -> str:
    if q.denominator == 1:
        return str(q.numerator)
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


FORMS = [
    lambda p, q: f"\\,{_tex(p)}\\,",
    lambda p, q: f"\\quad {_tex(p)} \\qquad",
    lambda p, q: f"\\text{{The least such }} n \\text{{ is }} {_tex(p)}",
    lambda p, q: f"{_tex(p)} \\text{{ or }} {_tex(p)}",
    lambda p, q: f"x = {_tex(p)} \\text{{ for all }} x",
    lambda p, q: f"f(x) = {_tex(p)} x + {_tex(q)} \\text{{ for all }} x \\in \\mathbb{{R}}",
    lambda p, q: f"f(t) \\equiv {_tex(p)} t + {_tex(q)}",
    lambda p, q: f"\\text{{Maximum }} {_tex(p)} \\text{{ and Minimum }} {_tex(q)}",
    lambda p, q: f"{_tex(q)} \\text{{ (minimum)}}, {_tex(p)} \\text{{ (maximum)}}",
    lambda p, q: f"({_tex(p)},\\ {_tex(q)})\\ \\text{{and}}\\ ({_tex(q)},\\ {_tex(p)})",
    lambda p, q: f"({_tex(q)}, {_tex(p)}) \\quad ({_tex(p)}, {_tex(q)})",
    lambda p, q: f"f(x) = \\begin{{cases}} {_tex(p)} & x \\ge 0 \\\\ {_tex(q)} & x < 0 \\end{{cases}}",
]
# Which forms state the same thing for equal (p, q): same index, or these pairs.
SAME = {(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (0, 4), (1, 4), (2, 4), (3, 4), (5, 6), (7, 8), (9, 10)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p1=_rationals, q1=_rationals, p2=_rationals, q2=_rationals,
       i=st.integers(0, len(FORMS) - 1), j=st.integers(0, len(FORMS) - 1))
@example(p1=Fraction(1, 9), q1=Fraction(0), p2=Fraction(0), q2=Fraction(1, 9), i=9, j=9)  # the same two pairs
@example(p1=Fraction(1, 9), q1=Fraction(0), p2=Fraction(0), q2=Fraction(1, 8), i=9, j=10)  # different pairs
def test_no_rule_makes_different_values_equal(p1: Fraction, q1: Fraction, p2: Fraction, q2: Fraction,
                                              i: int, j: int) -> None:
    a, b = FORMS[i](p1, q1), FORMS[j](p2, q2)
    same_form = i == j or (min(i, j), max(i, j)) in SAME
    uses_q = {5, 6, 7, 8, 9, 10, 11}
    if not same_form:
        return
    if i in uses_q or j in uses_q:
        expected = (p1, q1) == (p2, q2)
    else:
        expected = p1 == p2
    if {i, j} <= {9, 10}:  # the unordered list {(p, q), (q, p)}: equal when the two lists hold the same pairs
        expected = sorted([(p1, q1), (q1, p1)]) == sorted([(p2, q2), (q2, p2)])
    assert equivalent(a, b) is expected, (a, b)


@settings(max_examples=200, deadline=None)
@given(p=_rationals, q=_rationals, i=st.integers(0, len(FORMS) - 1), j=st.integers(0, len(FORMS) - 1))
def test_different_forms_of_different_values_never_equal(p: Fraction, q: Fraction, i: int, j: int) -> None:
    """Whatever the two forms, a value and a different value (p + 1) are never equal."""
    assert not equivalent(FORMS[i](p, q), FORMS[j](p + 1, q + 1))
