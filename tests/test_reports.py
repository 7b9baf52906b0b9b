"""harness.reports: accuracy + Wilson CI, per subject/level breakdowns, no-answer/truncation/timeout
counts, tokens/s, maj@k and unbiased pass@k, and the printed tables. Inputs are sample records in
the samples.jsonl schema, written to a real run directory and loaded with records.load_run.

Run: ``python3 -m pytest -q tests/test_reports.py``.
"""

from __future__ import annotations

import itertools
import json

import pytest

from harness.io import write_jsonl
from harness.records import load_run, write_manifest
from harness.reports import format_tables, majority_correct, pass_at_k, summarize
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
    assert "by_subject" not in g and "by_level" not in g and "maj@k" not in g


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
    samples = [rec("math", "p", idx=i, ans=a, ok=a == correct_answer) for i, a in enumerate(answers)]
    assert majority_correct(samples, "strict", "math") is expected


def test_n_samples_metrics(tmp_path):
    samples = []
    for p, oks in enumerate([[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]):
        for i, ok in enumerate(oks):
            samples.append(rec("math", f"p{p}", idx=i, ok=bool(ok), ans="1" if ok else f"w{i % 2}"))
    res = summarize(make_run(tmp_path, samples))
    m = res["tasks"]["math"]
    assert m["n_problems"] == 3 and m["strict"]["n"] == 12
    assert m["pass@k"]["strict"]["1"] == pytest.approx((0.5 + 0.25 + 0) / 3)
    assert m["pass@k"]["strict"]["4"] == pytest.approx(2 / 3)
    assert m["pass@k"]["strict"]["2"] == pytest.approx((pass_at_k(4, 2, 2) + pass_at_k(4, 1, 2)) / 3)
    # p0: "1" x2 vs w0, w1 -> "1" wins; p1: w0 x2 vs w1, "1" -> wrong; p2: wrong
    assert m["maj@k"] == {"k": 4, "strict": pytest.approx(1 / 3), "flexible": pytest.approx(1 / 3)}
    text = format_tables(res)
    assert "maj@k strict %" in text and "(k=4)" in text


def test_ci_with_several_samples_is_clustered_by_problem():
    """4 identical samples per problem carry the evidence of 1: the CI must not shrink as if 40 were independent."""
    from harness.reports import acc_block


    samples = [{"task": "t", "id": str(i), "sample_idx": j, "correct_strict": i < 6} for i in range(10) for j in range(4)]
    b = acc_block(samples, "strict")
    assert b["acc"] == pytest.approx(0.6) and b["n"] == 40 and b["correct"] == 24
    naive = wilson_interval(24, 40)
    assert (b["ci"][1] - b["ci"][0]) > 1.5 * (naive[1] - naive[0])
    one = acc_block([s for s in samples if s["sample_idx"] == 0], "strict")  # one sample per problem: Wilson
    assert one["ci"] == pytest.approx(list(wilson_interval(6, 10)))
