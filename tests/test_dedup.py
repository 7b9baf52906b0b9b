"""Hygiene kernels (synth/dedup.py): exact and near-duplicate removal, and n-gram decontamination against
the real test sets of every registered task (from $HARNESS_DATA_DIR): a test problem planted verbatim and
lightly edited (words changed, whitespace, punctuation) is removed, a new problem is kept, the per-n report
counts what each n removes; window hashes and signatures do not depend on how rows are batched; a custom
task is indexed and a task without data is reported as missing.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_dedup.py``
"""

from __future__ import annotations

import numpy as np
import pytest

import harness.data
from harness.data import get_task, load_task, register_jsonl_task, task_names
from synth.dedup import (
    Encoder,
    build_test_index,
    decontaminate,
    dedup,
    minhash,
    registered_test_index,
    whole_hashes,
    window_hashes,
    words,
)
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
    assert rep["removed_by_n"][10] >= rep["removed_by_n"][30]
    assert rep["by_test_set"] == {"math": 2, "gsm8k": 2}
    indexed = {(s["name"], s["split"]) for s in rep["test_sets"]} | {(m["name"], m["split"]) for m in rep["missing"]}
    assert indexed == {(t, sp) for t in task_names() for sp in get_task(t).splits if sp != "train"}


def test_smaller_n_removes_more():
    idx = build_test_index([LONG], ns=(10, 30))
    partial = " ".join(LONG.split()[:14]) + " and then he sells the field to his neighbour for gold coins."
    keep30, rep = decontaminate([partial], idx, n=30)
    keep10, _ = decontaminate([partial], idx, n=10)
    assert keep30 == [0] and keep10 == [] and rep["removed_by_n"] == {10: 1, 30: 0}


def test_hashes_do_not_depend_on_batching():
    texts = [LONG, "What is 3+4?", "", LONG.replace("600", "700"), "one two three four"]
    enc = Encoder().encode(texts)
    whole, sig = whole_hashes(enc), minhash(enc, num_perm=32)
    for i, t in enumerate(texts):
        alone = Encoder().encode([t])
        assert whole_hashes(alone)[0] == whole[i]
        assert np.array_equal(minhash(alone, num_perm=32)[0], sig[i])
    # a window of a long text hashes like the same words standing alone
    h, off = window_hashes(Encoder().encode([LONG, " ".join(words(LONG)[5:35])]), 30)
    assert h[off[0] + 5] == h[off[1]] and off[2] - off[1] == 1


@pytest.fixture
def custom_tasks(tmp_path):
    held = tmp_path / "held.jsonl"
    held.write_text('{"question": "' + LONG + '", "answer": "20000"}\n')
    with harness.data.REGISTRY.scoped():
        register_jsonl_task("held_custom", held)
        register_jsonl_task("gone_custom", tmp_path / "missing.jsonl")
        yield


def test_custom_tasks_indexed_and_missing_data_reported(custom_tasks, data_dir):
    idx = registered_test_index(data_dir, ns=(30,))
    keep, rep = decontaminate(["  " + LONG.lower(), "A new problem about 7 apples."], idx, n=30)
    assert keep == [1] and rep["by_test_set"] == {"held_custom": 1}
    assert [m["name"] for m in rep["missing"]] == ["gone_custom"] and "missing.jsonl" in rep["missing"][0]["why"]


def test_short_test_problem_inside_a_longer_row_is_found():
    short = "Find the sum of all positive divisors of 50 that are also divisors of 15."
    idx = build_test_index([short, "What is 2+3?"], ns=(30,))
    rows = ["Solve this, then box the answer: " + short.upper() + " Show your steps.",  # wrapped: found
            "Please answer: what is 2 + 3, quickly",  # 3 words: only ever matched as the whole row
            "Find the sum of all positive divisors of 60 that are also divisors of 15.",  # a number differs
            "  what IS 2+3 ?"]
    keep, rep = decontaminate(rows, idx, n=30)
    assert keep == [1, 2] and rep["removed"] == 2
