"""harness.records.Sample (the one samples.jsonl record) and harness.metrics (the one place figures are
computed): lossless read/write of old and new records, verdicts per mode with the tolerant fallback,
grouping, paired differences with several samples per problem (sign test checked against scipy),
status counts with `error`, and rates that are None when nothing was recorded.

Run: ``python3 -m pytest -q tests/test_metrics.py``.
"""

from __future__ import annotations

import json

import pytest

from harness import metrics
from harness.io import write_jsonl
from harness.records import SAMPLE_FIELDS, Sample, load_run, write_manifest

OLD = {"task": "math500", "id": 7, "sample_idx": 0, "subject": "Algebra", "level": 3, "gold": ["1", "-1"],
       "prompt": [{"role": "user", "content": "q"}], "output": "x = \\boxed{1}", "extracted_strict": "1",
       "extracted_flexible": "1", "correct_strict": True, "correct_flexible": True, "status_strict": "correct",
       "status_flexible": "correct", "prompt_tokens": 12, "tokens": 40, "finish_reason": "stop",
       "truncated": False, "gen_s": 0.25}


def test_old_record_reads_and_writes_back_unchanged(tmp_path):
    write_manifest(tmp_path, {"model": "m"})
    new = {**OLD, "id": "8", "unclosed_think": True, "correct_tol_strict": True, "correct_tol_flexible": False,
           "status_strict": "error", "future_key": {"a": 1}}
    write_jsonl(tmp_path / "samples.jsonl", [OLD, new])
    run = load_run(tmp_path)
    old_s, new_s = run.records
    assert old_s.to_dict() == {**OLD, "id": "7"}  # ids are strings, as every key has always been
    assert new_s.to_dict() == new and json.dumps(new_s.to_dict())
    assert set(SAMPLE_FIELDS) <= set(Sample(task="t", id="1").to_dict())
    assert "unclosed_think" not in old_s.to_dict() and old_s.unclosed_think is None
    assert run.samples[0] == OLD  # the raw lines stay as read (resume and merge rewrite them verbatim)
    assert (old_s.key, old_s.problem, old_s.cell) == (("math500", "7", 0), ("math500", "7"), ("math500", "Algebra", 3))


def test_verdicts_per_mode_and_tolerant_fallback():
    s = Sample.from_dict({"task": "t", "id": "1", "correct_strict": False, "correct_flexible": True,
                          "status_strict": "wrong", "status_flexible": "correct", "correct_tol_strict": True})
    assert [s.score(m) for m in ("strict", "flexible", "tol_strict", "tol_flexible")] == [0.0, 1.0, 1.0, 1.0]
    assert s.has("tol_strict") and not s.has("tol_flexible")  # tol_flexible falls back to the exact verdict
    assert s.status("strict") == "wrong" and s.status("tol_strict") == "correct"
    with pytest.raises(ValueError, match="grading mode"):
        s.score("lenient")
    assert not Sample.from_dict({"task": "t", "id": "1"}).has("strict")


def test_groups_sorted_with_ints_and_none_left_out():
    rows = [Sample(task="t", id=str(i), subject=s, level=lvl)
            for i, (s, lvl) in enumerate([("b", 10), ("a", 2), (None, None), ("a", 1)])]
    assert list(metrics.group(rows, "level")) == [1, 2, 10]
    assert list(metrics.group(rows, "subject")) == ["a", "b"]
    assert list(metrics.group(rows, "cell"))[-1] == ("t", None, None)
    with pytest.raises(ValueError, match="grouping key"):
        metrics.group(rows, "colour")


def test_paired_with_several_samples_is_a_sign_test_on_problems():
    scipy_stats = pytest.importorskip("scipy.stats")
    base, cand = [], []
    # 30 problems x 2 samples: 12 problems got better (0/2 -> 1/2), 4 got worse (2/2 -> 1/2), 14 equal.
    for p in range(30):
        a, c = ((0, 0), (1, 0)) if p < 12 else ((1, 1), (1, 0)) if p < 16 else ((1, 0), (0, 1))
        for k in range(2):
            base.append(Sample(task="t", id=str(p), sample_idx=k, correct_strict=bool(a[k])))
            cand.append(Sample(task="t", id=str(p), sample_idx=k, correct_strict=bool(c[k])))
    d = metrics.paired(base, cand)
    assert d.n == 30 and (d.b, d.c) == (4, 12)
    assert d.diff == pytest.approx((12 * 0.5 - 4 * 0.5) / 30)
    assert d.acc_a == metrics.accuracy(base).acc and d.acc_b == metrics.accuracy(cand).acc
    assert d.p_value == pytest.approx(scipy_stats.binomtest(4, 16, 0.5).pvalue)
    assert metrics.paired(base, [Sample(task="t", id="99")]) is None  # nothing matches


def test_status_counts_and_rates():
    rows = [Sample(task="t", id=str(i), status_strict=st, finish_reason="length" if i == 0 else "stop")
            for i, st in enumerate(["correct", "error", "error", "timeout", None])]
    assert metrics.status_counts(rows) == {"correct": 1, "wrong": 0, "no_answer": 0, "timeout": 1, "error": 2,
                                           "missing": 1}
    assert metrics.rate(rows, lambda s: s.finish_reason == "length") == pytest.approx(0.2)
    assert metrics.rate(rows, lambda s: s.unclosed_think) is None  # never recorded
    assert metrics.rate([], lambda s: True) is None
    assert metrics.either_status(rows, "error") == 2


def test_sampling_metrics_only_with_several_samples():
    one = [Sample(task="t", id=str(i), correct_strict=True, extracted_strict="1") for i in range(3)]
    assert metrics.sampling_metrics(one, "strict") is None
    # problem i: its first i of 3 samples answer "1" (right), the others distinct wrong answers.
    many = [Sample(task="t", id=str(i), sample_idx=k, correct_strict=k < i, extracted_strict="1" if k < i else f"w{k}")
            for i in range(4) for k in range(3)]
    m = metrics.sampling_metrics(many, "strict")
    assert m["k"] == 3 and m["avg@k"]["acc"] == pytest.approx((0 + 1 / 3 + 2 / 3 + 1) / 4)
    # maj@k: problem 0 votes wrong; problem 1 ties 1-1-1 and the earliest sample ("1") wins.
    assert m["pass@k"]["3"]["acc"] == pytest.approx(3 / 4) and m["maj@k"]["acc"] == pytest.approx(3 / 4)
    assert m["pass@k"]["1"]["acc"] == pytest.approx(m["avg@k"]["acc"])
