"""Hygiene (synth/dedup.py): exact and near-duplicate removal, and n-gram decontamination against the
real registered test sets (GSM8K test, MATH test, MATH-500 from $HARNESS_DATA_DIR): a test problem planted
verbatim and lightly edited (words changed, whitespace, punctuation) is removed, a new problem is kept,
and the per-n report counts what each n removes.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_dedup.py``
"""

from __future__ import annotations

import pytest

from harness.data import load_task
from synth.dedup import build_test_index, decontaminate, dedup, registered_test_index, words
from synth.generators import generate

LONG = ("A farmer has a rectangular field that is twice as long as it is wide. He walks around the whole "
        "field along its edge every morning before breakfast and counts his steps carefully, and he finds "
        "that the walk takes him exactly 600 steps of one meter each. What is the area of the field in "
        "square meters?")


def test_words_ignore_case_whitespace_and_punctuation():
    assert words("What is  $3+4$ ?\n") == words("what is 3 + 4") == ["what", "is", "3", "4"]
    assert words(r"\frac{1}{2}") == ["\\frac", "1", "2"]


def test_exact_and_near_duplicates():
    near = LONG.replace("carefully", "slowly")
    other_numbers = LONG.replace("600", "800")
    texts = [LONG, "  " + LONG.upper() + " ", near, other_numbers, "What is 3+4?", "What is 3+5?"]
    r = dedup(texts)
    assert r.keep == [0, 3, 4, 5] and r.exact == 1 and r.near == 1


def test_generated_problems_are_not_near_duplicates_of_each_other():
    items = generate("gsm8k/money", 300, seed=1, level=3)
    qs = [x["question"] for x in items]
    r = dedup(qs)
    assert r.exact == len(qs) - len(set(qs)) and r.near == 0


@pytest.fixture(scope="module")
def index(data_dir):
    return registered_test_index(data_dir)


def test_planted_test_problems_are_removed(index, data_dir):
    math_test = load_task("math", "test", data_dir_=data_dir)
    gsm_test = load_task("gsm8k", "test", data_dir_=data_dir)
    long_math = next(p.question for p in math_test if len(words(p.question)) > 70)
    long_gsm = next(p.question for p in gsm_test if len(words(p.question)) > 60)
    w = long_math.split(" ")
    edited = " ".join(w[:3] + ["quickly"] + w[4:8] + ["certain"] + w[9:]).replace(",", " ,").replace(".", " .")
    short = next(p.question for p in gsm_test if len(words(p.question)) < 30)
    fresh = [x["question"] for x in generate("algebra/system", 20, seed=3, level=4)]
    texts = [long_math, edited, long_gsm + "  ", short, *fresh, LONG]
    keep, rep = decontaminate(texts, index, n=30)
    assert keep == list(range(4, len(texts)))  # the 4 planted ones removed; generated + new kept
    assert rep["removed"] == 4 and set(rep["removed_by_n"]) == {10, 13, 20, 30}
    assert rep["removed_by_n"][10] >= rep["removed_by_n"][30] and len(rep["test_sets"]) == 3


def test_smaller_n_removes_more():
    idx = build_test_index([LONG], ns=(10, 30))
    partial = " ".join(LONG.split()[:14]) + " and then he sells the field to his neighbour for gold coins."
    keep30, rep = decontaminate([partial], idx, n=30)
    keep10, _ = decontaminate([partial], idx, n=10)
    assert keep30 == [0] and keep10 == [] and rep["removed_by_n"] == {10: 1, 30: 0}
