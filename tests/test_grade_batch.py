"""Batch grading (``harness.answers.grade_batch``): serial, pooled, threaded and asyncio calls give the
verdicts of ``grade()`` item by item; a runaway item is killed at ``timeout_s`` and only it is
``timeout``; a worker past its memory limit makes only its item ``error``; the pool is reused.

Items are real MATH and GSM8K golds from ``$HARNESS_DATA_DIR`` answered in model style (correct,
wrong, no answer, an unclosed think block). The pool runs real worker processes; the runaway and
greedy items use module-level grading functions of this file (``GradingPool(grade_fn=...)``), which a
spawned worker imports by name.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_grade_batch.py``.
"""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from harness.answers import Grade, GradingPool, grade, grade_batch, grade_batch_async, shared_pool
from harness.answers.rules import as_rules
from harness.data import answer_rules, load_task

HANG = "<<hang forever>>"
GREEDY = "<<allocate a gigabyte>>"


def hang_on_marker(output, gold, rules, mode):
    """A grader that never returns on the HANG output (a runaway parse); ``grade`` otherwise."""
    while output == HANG:
        pass
    return grade(output, gold, rules, mode)


def greedy_on_marker(output, gold, rules, mode):
    """A grader that asks for 1 GiB on the GREEDY output (a parse whose memory explodes)."""
    if output == GREEDY:
        block = bytearray(1 << 30)
        return Grade(False, str(len(block)), "wrong")  # only reached when nothing bounds the heap
    return grade(output, gold, rules, mode)


def worker_pid(output, gold, rules, mode):
    """Reports which worker process graded the item."""
    return Grade(False, str(os.getpid()), "wrong")


def _items(task: str, n: int) -> tuple[list[str], list]:
    """Model-style outputs for the first ``n`` problems of ``task``: the four kinds in turn."""
    outs, golds = [], []
    for i, p in enumerate(load_task(task)[:n]):
        gold = p.answer if isinstance(p.answer, str) else p.answer[0]
        final = f"#### {gold}" if task == "gsm8k" else f"So the answer is $\\boxed{{{gold}}}$."
        think = "<think>Let me see. " + "We try a value and check it. " * (20 + i % 40)
        outs.append([
            think + "</think> " + final,                           # correct
            think + "</think> The answer is $\\boxed{-12345}$. #### -12345",  # wrong
            think + "</think> I could not finish.",                 # no answer
            think + final,                                          # unclosed think: no answer
        ][i % 4])
        golds.append(p.answer)
    return outs, golds


@pytest.fixture(scope="module")
def batch():
    m_out, m_gold = _items("math", 60)
    g_out, g_gold = _items("gsm8k", 60)
    return {"math": (m_out, m_gold), "gsm8k": (g_out, g_gold)}


@pytest.fixture(scope="module")
def expected(batch):
    """``grade()`` item by item: the reference every strategy must reproduce."""
    return {
        t: [grade(o, g, answer_rules(t)) for o, g in zip(outs, golds)] for t, (outs, golds) in batch.items()
    }


def test_serial_matches_grade_item_by_item_and_keeps_order(batch, expected):
    for task, (outs, golds) in batch.items():
        got = grade_batch(outs, golds, answer_rules(task))
        assert got == expected[task]
        assert {g.status for g in got} >= {"correct", "wrong", "no_answer"}


def test_pooled_matches_serial(batch, expected):
    for task, (outs, golds) in batch.items():
        assert grade_batch(outs, golds, answer_rules(task), workers=2) == expected[task]


def test_repeated_pairs_graded_once_and_returned_in_place(batch, expected):
    outs, golds = batch["math"]
    order = [5, 0, 5, 7, 0, 5]  # a GRPO group repeats its gold, sometimes its completion too
    got = grade_batch([outs[i] for i in order], [golds[i] for i in order], "math", workers=2)
    assert got == [expected["math"][i] for i in order]


def test_task_names_and_rules_agree():
    """A family name, a built-in task name and the registry's rules give the same verdicts."""
    outs, golds = ["#### 1,234", "The answer is 7."], ["1234", "7"]
    by_name = grade_batch(outs, golds, "gsm8k")
    assert by_name == grade_batch(outs, golds, answer_rules("gsm8k")) == grade_batch(outs, golds, as_rules("gsm8k"))
    assert [g.status for g in grade_batch(["#### 5"], ["5"], answer_rules("svamp"))] == ["correct"]


def test_eight_threads_at_once_share_the_pool_and_agree(batch, expected):
    outs, golds = batch["math"]
    start = threading.Barrier(8)
    results: dict[int, list] = {}

    def run(k: int) -> None:
        start.wait()
        workers = None if k % 4 == 0 else 2  # serial and pooled callers mixed
        results[k] = grade_batch(outs, golds, "math", workers=workers)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert all(r == expected["math"] for r in results.values())


def test_asyncio_calls_agree_and_run_concurrently(batch, expected):
    async def main():
        return await asyncio.gather(
            grade_batch_async(*batch["math"], "math", workers=2),
            grade_batch_async(*batch["gsm8k"], answer_rules("gsm8k"), workers=2),
            grade_batch_async(*batch["math"], "math"),
        )

    pooled_math, pooled_gsm8k, serial_math = asyncio.run(main())
    assert pooled_math == serial_math == expected["math"]
    assert pooled_gsm8k == expected["gsm8k"]


def test_shared_pool_is_started_once_and_reused():
    assert shared_pool(2) is shared_pool(2)
    grade_batch(["$\\boxed{1}$"], ["1"], workers=2)
    assert shared_pool(2) is shared_pool(2)
    with GradingPool(2, grade_fn=worker_pid) as pool:
        rules = as_rules("math")
        pairs = [(f"item {i}", "1") for i in range(64)]
        first = {g.extracted for g in pool.grade_pairs(pairs, rules, "strict", 30.0)}
        second = {g.extracted for g in pool.grade_pairs(pairs, rules, "strict", 30.0)}
    assert 1 <= len(first | second) <= 2  # the same two workers served both calls
    assert str(os.getpid()) not in first


def test_runaway_item_is_killed_alone_and_the_pool_recovers(batch, expected):
    outs, golds = batch["math"]
    outs = outs[:30] + [HANG] + outs[30:]
    golds = golds[:30] + ["1"] + golds[30:]
    with GradingPool(2, grade_fn=hang_on_marker) as pool:
        got = pool.grade_pairs(list(zip(outs, golds)), as_rules("math"), "strict", 2.0)
        assert got[30] == Grade(False, None, "timeout")
        assert got[:30] + got[31:] == expected["math"]
        assert pool.stats["killed"] == 1
        again = pool.grade_pairs(list(zip(batch["math"][0], batch["math"][1])), as_rules("math"), "strict", 2.0)
        assert again == expected["math"]  # the killed worker was replaced


def test_worker_memory_is_bounded(batch, expected):
    outs, golds = batch["gsm8k"]
    outs, golds = [GREEDY, *outs[:10]], ["1", *golds[:10]]
    with GradingPool(1, memory_mb=256, grade_fn=greedy_on_marker) as pool:
        got = pool.grade_pairs(list(zip(outs, golds)), answer_rules("gsm8k"), "strict", 30.0)
    assert got[0].status == "error"
    assert got[1:] == expected["gsm8k"][:10]


@pytest.mark.parametrize(
    "outs,golds,kw,message",
    [
        (["a", "b"], ["1"], {}, "one gold per output"),
        (["a"], [[]], {}, "non-empty list"),
        ("a", ["1"], {}, "sequences"),
        (["a"], ["1"], {"mode": "lenient"}, "strict' or 'flexible"),
        (["a"], ["1"], {"workers": -1}, "workers must be"),
        (["a"], ["1"], {"workers": 1, "timeout_s": 0}, "timeout_s must be"),
    ],
)
def test_bad_arguments_raise_clear_errors(outs, golds, kw, message):
    with pytest.raises(ValueError, match=message):
        grade_batch(outs, golds, **kw)
