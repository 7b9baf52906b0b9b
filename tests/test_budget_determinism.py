"""The grader's verdict is a function of its inputs: the work budget counts steps, not seconds.

Issue 19: with the wall-clock budget of engine 1.2, the pair "44 irrationals reversed" of
benchmarks/grading_budget.py was ``correct`` alone and ``timeout`` 8 of 8 times from 4 threads. Here
the whole hostile corpus of that benchmark (its own ``cases()``) is graded serially, from 4 and 16
real threads at once (the pair above many times among them) and while CPU-hog subprocesses run, and
every status must equal the serial one. Also: the steps a comparison counts do not depend on what
earlier calls left in the caches, the CPU-time backstop is observable (``Grade.backstop``), and a
``Budget`` refuses the seconds it took before 1.3.

Run: ``python3 -m pytest -q tests/test_budget_determinism.py`` (about 20 s on 2 cores).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.answers import BackstopTimeout, grade
from harness.answers.equiv import compare
from harness.answers.types import AnswerTimeout, Budget

ROOT = Path(__file__).resolve().parents[1]
PAIR = "44 irrationals reversed"


def _benchmark():
    spec = importlib.util.spec_from_file_location("grading_budget", ROOT / "benchmarks" / "grading_budget.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _benchmark()
CASES = BENCH.cases()


def _status(case: tuple[str, str, str, str]) -> str:
    _, output, gold, mode = case
    return grade(output, gold, "math", mode).status


@pytest.fixture(scope="module")
def serial() -> dict[str, str]:
    BENCH._clear_caches()
    return {case[0]: _status(case) for case in CASES}


def test_corpus_has_the_issue_pair(serial):
    assert len(CASES) >= 50
    assert serial[PAIR] == "correct"
    assert {"correct", "wrong", "timeout", "no_answer"} <= set(serial.values())


def _threaded(threads: int, cases: list) -> list[tuple[str, str]]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda c: (c[0], _status(c)), cases))


@pytest.mark.parametrize("threads", [1, 4, 16])
def test_same_status_from_threads(serial, threads):
    """Every case at once from ``threads`` threads, caches cold, the issue's pair 2 x threads times
    among them: no status differs from the serial run."""
    pair = next(c for c in CASES if c[0] == PAIR)
    todo = [pair] * (2 * threads) + CASES
    BENCH._clear_caches()
    got = _threaded(threads, todo)
    flips = [(name, st, serial[name]) for name, st in got if st != serial[name]]
    assert flips == []


def test_same_status_under_a_cpu_hog(serial):
    """Two busy-loop processes take the cores while 4 threads grade the corpus twice (cold, then
    warm caches): the same statuses."""
    hogs = [subprocess.Popen([sys.executable, "-c", "print('busy', flush=True)\nwhile True: pass"],
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for hog in hogs:
            assert hog.stdout is not None and hog.stdout.readline().strip() == "busy"  # running
        BENCH._clear_caches()
        got = _threaded(4, CASES) + _threaded(4, CASES)
        for hog in hogs:
            assert hog.poll() is None  # still hogging when the grading ended
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert [(n, st) for n, st in got if st != serial[n]] == []


def _steps(pred: str, gold: str) -> tuple[int, object]:
    budget = Budget(10**9)
    try:
        out: object = compare(pred, gold, "math", budget)
    except AnswerTimeout:
        out = "timeout"
    return budget.used, out


@pytest.mark.parametrize("pred,gold", [
    ("\\sqrt{8}+\\frac{2^{400}}{3^{300}}", "2\\sqrt{2}+\\frac{2^{400}}{3^{300}}"),
    ("2004 \\cdot 2003!", "2004!"),
    ("\\sum_{k=1}^{50} \\frac{1}{k}", "\\sum_{k=1}^{50} \\frac{2}{2k}"),
    ("x^{30} + \\frac{3^{200}}{7^{100}} x", "\\frac{3^{200}}{7^{100}} x + x^{30}"),
])
def test_steps_do_not_depend_on_the_caches(pred, gold):
    """Cached exact values charge their recorded cost on every hit: the count is the same cold and
    warm (else a verdict near the limit would depend on what ran before)."""
    BENCH._clear_caches()
    cold = _steps(pred, gold)
    warm = _steps(pred, gold)
    assert cold == warm
    assert cold[0] > 0


def test_budget_limit_is_exact(serial):
    """The status flips to timeout at one exact step count, the same every time."""
    pred, gold = "\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{6}}"
    need, out = _steps(pred, gold)
    assert out is True
    for _ in range(3):
        assert compare(pred, gold, "math", Budget(need)) is True
        with pytest.raises(AnswerTimeout):
            compare(pred, gold, "math", Budget(need - 1))


def test_backstop_is_observable():
    """The CPU-time backstop (never expected to fire) gives status timeout with ``backstop`` set."""
    out = "The answer is $\\boxed{\\sqrt{2}+\\sqrt{3}}$."
    g = grade(out, "\\sqrt{5+2\\sqrt{6}}", "math", budget_s=-1.0)
    assert (g.status, g.backstop, g.to_dict()["backstop"]) == ("timeout", True, True)
    g = grade(out, "\\sqrt{5+2\\sqrt{6}}", "math")
    assert (g.status, g.backstop) == ("correct", False)
    with pytest.raises(BackstopTimeout):
        Budget(backstop_s=-1.0).check()


def test_budget_takes_steps_not_seconds():
    with pytest.raises(TypeError, match="work steps"):
        Budget(0.5)  # type: ignore[arg-type]
    b = Budget(10)
    b.check(4)
    b.charge(6)
    assert (b.used, b.left()) == (10, 0)
    with pytest.raises(AnswerTimeout):
        b.check()


def test_eval_record_and_summary_count_backstop(monkeypatch):
    """A sample whose grading hit the backstop is flagged in samples.jsonl and counted in
    results.json's ``grading_backstop`` (the real grader, its backstop set below zero)."""
    import functools

    from harness import eval as ev
    from harness.answers import AnswerRules
    from harness.backends.base import Generation
    from harness.data import Problem
    from harness.records import Sample
    from harness.reports import summarize_task

    task = ev.ResolvedTask(name="math", version="1", rules=AnswerRules("math"), problems=(), prompt=None)  # type: ignore[arg-type]
    prob = Problem(id="1", question="q", answer="\\sqrt{5+2\\sqrt{6}}")
    gen = Generation(text="The answer is $\\boxed{\\sqrt{2}+\\sqrt{3}}$.", tokens=9)
    plain = ev.make_record(task, prob, 0, "q", gen, 0.1)
    monkeypatch.setattr(ev, "grade", functools.partial(grade, budget_s=-1.0))
    hit = ev.make_record(task, prob, 1, "q", gen, 0.1)
    assert "grading_backstop" not in plain and plain["status_strict"] == "correct"
    assert hit["grading_backstop"] is True and hit["status_strict"] == "timeout"
    samples = [Sample.from_dict(plain), Sample.from_dict(hit)]
    assert Sample.from_dict(hit).to_dict()["grading_backstop"] is True
    res = summarize_task(samples)
    assert (res["grading_backstop"], res["timeout"]) == (1, 1)
