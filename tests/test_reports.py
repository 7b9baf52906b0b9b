"""harness.reports: accuracy + Wilson CI, per subject/level breakdowns, no-answer/truncation/timeout
counts (every status, `error` included), unclosed-think rate, tolerant accuracy, tokens/s, avg@k / maj@k /
unbiased pass@k with CIs, and the printed tables. Inputs are sample records in
the samples.jsonl schema, written to a real run directory and loaded with records.load_run.

Run: ``python3 -m pytest -q tests/test_reports.py``.
"""

from __future__ import annotations

import itertools
import json

import pytest

from harness.io import write_jsonl
from harness.metrics import accuracy, majority_correct, pass_at_k
from harness.records import Sample, load_run, write_manifest
from harness.reports import format_tables, summarize
from harness.stats import wilson_interval


def rec(task, pid, *, ok=False, idx=0, subject=None, level=None, ans="x", status=None, fin="stop", tokens=10,
        gen_s=0.5):
    st = status or ("correct" if ok else ("no_answer" if ans is None else "wrong"))
    return {"task": task, "id": pid, "sample_idx": idx, "subject": subject, "level": level, "gold": "1",
            "prompt": "p", "output": "o", "extracted_strict": ans, "extracted_flexible": ans,
            "correct_strict": ok, "correct_flexible": ok, "status_strict": st, "status_flexible": st,
            "prompt_tokens": 3, "tokens": tokens, "finish_reason": fin, "truncated": fin == "length", "gen_s": gen_s}


def make_run(tmp_path, samples, **manifest):
    write_manifest(tmp_path, {"model": "m", "backend": "hf", "tasks": {"math": "1.0", "gsm8k": "1.0"},
                              "prompt": {"name": "qwen-boxed", "version": "1"}, "n_shot": 0, **manifest})
    write_jsonl(tmp_path / "samples.jsonl", samples)
    return load_run(tmp_path)


def test_accuracy_ci_and_rates(tmp_path):
    scipy_stats = pytest.importorskip("scipy.stats")
    samples = [rec("gsm8k", f"g{i}", ok=i < 7, subject="GSM8K", ans=None if i == 9 else "3",
                   fin="length" if i >= 8 else "stop") for i in range(10)]
    samples[7]["status_flexible"] = "timeout"
    res = summarize(make_run(tmp_path, samples))
    g = res["tasks"]["gsm8k"]
    assert g["strict"]["acc"] == 0.7 and g["strict"]["n"] == 10 and g["strict"]["correct"] == 7
    ci = scipy_stats.binomtest(7, 10).proportion_ci(method="wilson")
    assert g["strict"]["ci"] == pytest.approx([ci.low, ci.high], abs=1e-9)
    assert g["no_answer_rate"] == 0.1 and g["truncation_rate"] == 0.2 and g["timeout"] == 1
    assert g["mean_tokens"] == 10 and g["tokens_per_s"] == 20.0
    # The one subject "GSM8K" is a one-group breakdown like any other (kept, as in the leaderboard and weak).
    assert set(g["by_subject"]) == {"GSM8K"} and g["by_subject"]["GSM8K"]["strict"] == g["strict"]
    assert "by_level" not in g and "maj@k" not in g and "sampling" not in g
    assert g["statuses"]["strict"] == {"correct": 7, "wrong": 2, "no_answer": 1, "timeout": 0, "error": 0}
    assert g["statuses"]["flexible"]["timeout"] == 1 and g["error"] == 0
    assert g["unclosed_think_rate"] is None  # never recorded: not 0
    assert "tol_strict" not in g
    text = format_tables(res)
    assert "GSM8K" not in text.split("\n", 3)[-1]  # no one-row subject table repeating the overview


def test_subject_and_level_breakdowns_and_tables(tmp_path):
    samples = []
    for i, (subj, lvl) in enumerate(itertools.product(["Algebra", "Geometry", "Number Theory"], [1, 2, 5])):
        samples.append(rec("math", f"m{i}", ok=lvl == 1 or subj == "Algebra", subject=subj, level=lvl))
    res = summarize(make_run(tmp_path, samples))
    m = res["tasks"]["math"]
    assert set(m["by_subject"]) == {"Algebra", "Geometry", "Number Theory"}
    assert m["by_subject"]["Algebra"]["strict"]["acc"] == 1.0
    geo = m["by_subject"]["Geometry"]["strict"]
    assert geo["acc"] == pytest.approx(1 / 3) and (geo["n"], geo["correct"]) == (3, 1)
    assert geo["ci"] == pytest.approx(list(wilson_interval(1, 3)))
    assert m["by_level"]["1"]["strict"]["acc"] == 1.0 and m["by_level"]["5"]["strict"]["correct"] == 1
    assert m["by_subject_level"]["Geometry"]["2"]["strict"]["n"] == 1
    json.dumps(res)  # results.json-able
    text = format_tables(res)
    for s in ("Algebra", "Geometry", "Number Theory", "Level 1", "Level 2", "Level 5", "L5 strict % (n)"):
        assert s in text
    assert "33.3 (3)" in text  # level-2 "All" cell: 1 of 3 correct, n shown
    assert "model: m" in text


def test_pass_at_k_matches_enumeration():
    for n, c in [(5, 0), (5, 1), (5, 3), (6, 6), (8, 2)]:
        flags = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(flags, k))
            brute = sum(any(s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(brute)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


@pytest.mark.parametrize("answers,correct_answer,expected", [
    (["5", "5", "6", "6", "6"], "6", True),     # plain majority
    (["5", "5", "6", "6", "6"], "5", False),
    (["5", "6"], "5", True),                     # tie: earliest sample wins
    (["6", "5"], "5", False),
    ([None, None, "7", None], "7", True),        # no-answer samples do not vote
    ([None, None], "7", False),                  # nobody answered
])
def test_majority_vote(answers, correct_answer, expected):
    samples = [Sample.from_dict(rec("math", "p", idx=i, ans=a, ok=a == correct_answer)) for i, a in enumerate(answers)]
    assert majority_correct(samples, "strict", "math") is expected


def test_n_samples_metrics(tmp_path):
    samples = []
    for p, oks in enumerate([[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]):
        for i, ok in enumerate(oks):
            samples.append(rec("math", f"p{p}", idx=i, ok=bool(ok), ans="1" if ok else f"w{i % 2}"))
    res = summarize(make_run(tmp_path, samples))
    m = res["tasks"]["math"]
    assert m["n_problems"] == 3 and m["strict"]["n"] == 3 and m["strict"]["n_samples"] == 12
    avg = m["sampling"]["strict"]["avg@k"]
    assert avg == m["strict"] and avg["acc"] == pytest.approx((0.5 + 0.25) / 3)
    assert m["pass@k"]["strict"]["1"] == pytest.approx((0.5 + 0.25 + 0) / 3)
    assert m["pass@k"]["strict"]["4"] == pytest.approx(2 / 3)
    assert m["pass@k"]["strict"]["2"] == pytest.approx((pass_at_k(4, 2, 2) + pass_at_k(4, 1, 2)) / 3)
    # p0: "1" x2 vs w0, w1 -> "1" wins; p1: w0 x2 vs w1, "1" -> wrong; p2: wrong
    assert m["maj@k"] == {"k": 4, "strict": pytest.approx(1 / 3), "flexible": pytest.approx(1 / 3)}
    assert m["sampling"]["strict"]["maj@k"]["ci"] == pytest.approx(list(wilson_interval(1, 3)))
    p1 = m["sampling"]["strict"]["pass@k"]["1"]
    assert p1["n"] == 3 and p1["ci"][0] < p1["acc"] < p1["ci"][1]
    text = format_tables(res)
    assert "maj@k strict % ±" in text and "strict (avg@k) % [95% CI] ±" in text
    assert "math: 4 samples per problem" in text and "pass@2" in text


def test_ci_with_several_samples_is_clustered_by_problem():
    """4 identical samples per problem carry the evidence of 1: the CI must not shrink as if 40 were independent."""
    samples = [Sample(task="t", id=str(i), sample_idx=j, correct_strict=i < 6) for i in range(10) for j in range(4)]
    b = accuracy(samples, "strict")
    assert b.acc == pytest.approx(0.6) and (b.n, b.n_samples, b.correct) == (10, 40, 24)
    naive = wilson_interval(24, 40)
    assert (b.ci[1] - b.ci[0]) > 1.5 * (naive[1] - naive[0])
    one = accuracy([s for s in samples if s.sample_idx == 0], "strict")  # one sample per problem: Wilson
    assert one.ci == pytest.approx(wilson_interval(6, 10))


def test_error_status_unclosed_think_and_tolerant_columns(tmp_path):
    """Issue 11/12 fields: `error` is counted (never wrong), the unclosed-think rate and the tolerant
    accuracy appear in results.json and in the tables when the samples carry them."""
    samples = [rec("minerva", f"p{i}", ok=i < 4, subject="Physics") for i in range(10)]
    samples[9]["status_strict"] = samples[9]["status_flexible"] = "error"
    for i, s in enumerate(samples):
        s["unclosed_think"] = i >= 8
        s["correct_tol_strict"] = s["correct_tol_flexible"] = i < 6  # two more within the tolerance
    res = summarize(make_run(tmp_path, samples, tasks={"minerva": "1.0"}))
    r = res["tasks"]["minerva"]
    assert r["statuses"]["strict"]["error"] == 1 and r["statuses"]["strict"]["wrong"] == 5 and r["error"] == 1
    assert r["unclosed_think_rate"] == pytest.approx(0.2)
    assert r["strict"]["acc"] == pytest.approx(0.4) and r["tol_strict"]["acc"] == pytest.approx(0.6)
    assert r["by_subject"]["Physics"]["tol_flexible"]["correct"] == 6
    text = format_tables(res)
    assert "tol strict % [95% CI] ±" in text and "unclosed think %" in text and "| error" in text
    row = next(line for line in text.splitlines() if line.startswith("| minerva"))
    assert "60.0 [" in row and "| 20.0 " in row


def test_empty_group_is_none_not_zero():
    a = accuracy([], "strict")
    assert (a.acc, a.ci, a.n, a.half_width) == (None, (None, None), 0, None)
