"""Tests for ``harness check`` (harness/check.py, harness/cli/check.py): the paired accuracy gate.

Run directories are built here from constructed samples with known answers (a true 5-point drop on
1,000 problems; equal accuracies with flips both ways; ...) and judged through the real CLI
(click's runner on ``harness.cli.main``) and the Python API. McNemar p-values are checked against
``scipy.stats.binomtest``.

Run: ``python3 -m pytest -q tests/test_check.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.check import check
from harness.cli import main
from harness.errors import UnusableInputError
from harness.stats import mcnemar_exact, paired_difference

SUBJECTS = ("Algebra", "Geometry", "Number Theory", "Precalculus")


def write_run(d: Path, correct: list[bool], *, task: str = "math500", prompt_version: str = "1",
              task_version: str = "1.0", ids: list[str] | None = None, config_hash: str = "c0ffee00",
              model: str = "m") -> Path:
    """A run directory (manifest.json + samples.jsonl) with one sample per problem and the given scores."""
    d.mkdir(parents=True, exist_ok=True)
    manifest = {"model": model, "backend": "hf", "tasks": {task: task_version}, "split": "test",
                "prompt": {"name": "cot", "version": prompt_version}, "n_shot": 0, "sampling": {"n": 1},
                "limit": None, "commit": "abc123", "date": "2025-01-01T00:00:00+00:00", "config_hash": config_hash}
    (d / "manifest.json").write_text(json.dumps(manifest))
    ids = ids or [str(i) for i in range(len(correct))]
    with (d / "samples.jsonl").open("w") as f:
        for i, (pid, c) in enumerate(zip(ids, correct)):
            f.write(json.dumps({"task": task, "id": pid, "sample_idx": 0, "subject": SUBJECTS[i % len(SUBJECTS)],
                                "level": i % 5 + 1, "correct_strict": c, "correct_flexible": c,
                                "status_strict": "correct" if c else "wrong"}) + "\n")
    return d


def flipped(base: list[bool], n_down: int, n_up: int, seed: int = 0) -> list[bool]:
    """Copy of ``base`` with ``n_down`` right->wrong and ``n_up`` wrong->right flips at random positions."""
    rng = random.Random(seed)
    right = [i for i, c in enumerate(base) if c]
    wrong = [i for i, c in enumerate(base) if not c]
    out = list(base)
    for i in rng.sample(right, n_down):
        out[i] = False
    for i in rng.sample(wrong, n_up):
        out[i] = True
    return out


def baseline_scores(n: int = 1000, acc: float = 0.70, seed: int = 1) -> list[bool]:
    rng = random.Random(seed)
    k = round(n * acc)
    s = [True] * k + [False] * (n - k)
    rng.shuffle(s)
    return s


def run_cli(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def test_true_five_point_drop_on_1000_fails(tmp_path):
    base = baseline_scores()
    cand = flipped(base, n_down=60, n_up=10)  # 70% -> 65%, few improvements
    b, c = write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand)
    res = run_cli("--baseline", str(b), "--candidate", str(c))
    assert res.exit_code == 1, res.output
    assert "FAIL" in res.output and "significant drop of 5.0 points" in res.output
    assert "70.0" in res.output and "65.0" in res.output
    for s in SUBJECTS:  # the per-subject table
        assert f"| {s}" in res.output
    assert "power:" in res.output and "detects a true drop of >=" in res.output
    # The same drop is tolerated when --max-drop is above it.
    assert run_cli("--baseline", str(b), "--candidate", str(c), "--max-drop", "6").exit_code == 0


def test_same_accuracy_with_noise_flips_passes(tmp_path):
    base = baseline_scores()
    cand = flipped(base, n_down=50, n_up=50)  # both 70%, 10% of questions flip both ways
    b, c = write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand)
    res = run_cli("--baseline", str(b), "--candidate", str(c))
    assert res.exit_code == 0, res.output
    assert "PASS" in res.output and "+0.0" in res.output
    # Random noise with a seed and no true drop: right->wrong with p=0.06, wrong->right with p=0.14
    # (0.7 * 0.06 == 0.3 * 0.14, so the expected accuracy stays 70%).
    rng = random.Random(7)
    noisy = [(not x) if rng.random() < (0.06 if x else 0.14) else x for x in base]
    write_run(tmp_path / "n", noisy)
    r = check(str(b), str(tmp_path / "n"))
    assert abs(r.tasks[0].overall.diff) < 0.03
    assert r.exit_code == 0, r.report


def test_small_drop_not_significant_passes_and_power_is_reported(tmp_path):
    base = baseline_scores()
    cand = flipped(base, n_down=30, n_up=20)  # 1 point down: within noise at n=1000
    b, c = write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand)
    r = check(str(b), str(c))
    assert r.exit_code == 0
    t = r.tasks[0]
    assert (t.overall.b, t.overall.c) == (30, 20)
    # MDD = (1.96 + 0.84) * sqrt(Var(d)/n); with 5% discordance that is about 2.0 points.
    assert 0.015 < t.mdd < 0.025
    assert t.n_for_1pt > 1000


@pytest.mark.parametrize("b,c", [(60, 10), (50, 50), (5, 0), (10, 3), (1, 2), (200, 170), (0, 7), (33, 17)])
def test_mcnemar_matches_scipy_binomtest(b, c, tmp_path):
    from scipy.stats import binomtest

    expected = binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    # ... and through the gate on run directories with exactly b and c discordant pairs.
    n = b + c + 40
    base = [True] * b + [False] * c + [True] * 20 + [False] * 20
    cand = [False] * b + [True] * c + [True] * 20 + [False] * 20
    r = check(str(write_run(tmp_path / "b", base)), str(write_run(tmp_path / "c", cand)))
    d = r.tasks[0].overall
    assert (d.n, d.b, d.c) == (n, b, c)
    assert d.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_paired_ci_contains_true_difference(tmp_path):
    # Constructed: exactly 70% -> 65% (true difference -5 points on these problems).
    base = baseline_scores()
    r = check(str(write_run(tmp_path / "b", base)), str(write_run(tmp_path / "c", flipped(base, 70, 20))))
    d = r.tasks[0].overall
    assert d.diff == pytest.approx(-0.05)
    assert d.ci_low < -0.05 < d.ci_high
    # SE from per-question differences: Var(d) = (b + c)/n - diff^2 (times n/(n-1)).
    var = ((70 + 20) / 1000 - 0.05 ** 2) * 1000 / 999
    assert d.se == pytest.approx((var / 1000) ** 0.5)
    # Coverage: samples from a population with a known true difference of -3 points.
    rng = random.Random(3)
    covered, reps = 0, 300
    for _ in range(reps):
        a, bb = [], []
        for _ in range(400):
            u = rng.random()  # P(base right, cand wrong) = .08, P(wrong, right) = .05: true diff -0.03
            a.append(1.0 if u < 0.08 or 0.13 <= u < 0.73 else 0.0)
            bb.append(1.0 if 0.08 <= u < 0.73 else 0.0)
        pdiff = paired_difference(a, bb)
        covered += pdiff.ci_low <= -0.03 <= pdiff.ci_high
    assert 0.91 <= covered / reps <= 0.99


def test_min_accuracy_floor(tmp_path):
    base = baseline_scores(acc=0.40)
    b, c = write_run(tmp_path / "b", base), write_run(tmp_path / "c", list(base))
    res = run_cli("--baseline", str(b), "--candidate", str(c), "--min-accuracy", "0.45")
    assert res.exit_code == 1 and "below --min-accuracy 45.0%" in res.output
    assert run_cli("--baseline", str(b), "--candidate", str(c), "--min-accuracy", "0.35").exit_code == 0
    res = run_cli("--baseline", str(b), "--candidate", str(c), "--min-accuracy", "45")
    assert res.exit_code == 2 and "min_accuracy: expected a number in [0, 1]" in res.output


def test_flexible_mode_judges_flexible_scores(tmp_path):
    base = baseline_scores(n=400)
    b = write_run(tmp_path / "b", base)
    c = write_run(tmp_path / "c", base)
    # Candidate: strict unchanged, flexible loses 40 problems.
    rows = [json.loads(x) for x in (c / "samples.jsonl").read_text().splitlines()]
    lost = 0
    for r in rows:
        if r["correct_flexible"] and lost < 40:
            r["correct_flexible"], lost = False, lost + 1
    (c / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run_cli("--baseline", str(b), "--candidate", str(c)).exit_code == 0
    res = run_cli("--baseline", str(b), "--candidate", str(c), "--mode", "flexible")
    assert res.exit_code == 1 and "grading: flexible" in res.output and "-10.0" in res.output


def _one_line_error(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    err = res.output.strip()
    assert err.startswith("Error: ") and "\n" not in err, err
    for n in needles:
        assert n in err, err


def test_exit_2_on_unusable_input(tmp_path):
    base = baseline_scores(n=100)
    b = write_run(tmp_path / "b", base)
    # Different problem sets.
    other = write_run(tmp_path / "ids", base, ids=[f"x{i}" for i in range(100)])
    _one_line_error(run_cli("--baseline", str(b), "--candidate", str(other)), "different problem sets")
    # Prompt version mismatch.
    pv = write_run(tmp_path / "pv", base, prompt_version="2")
    _one_line_error(run_cli("--baseline", str(b), "--candidate", str(pv)), "prompt differs", "v1", "v2")
    # Task version mismatch.
    tv = write_run(tmp_path / "tv", base, task_version="2.0")
    _one_line_error(run_cli("--baseline", str(b), "--candidate", str(tv)), "version differs")
    # Missing samples (an interrupted candidate).
    short = write_run(tmp_path / "short", base[:90])
    _one_line_error(run_cli("--baseline", str(b), "--candidate", str(short)), "candidate is missing 10 of 100")
    # Not a run directory; an unknown leaderboard entry; a task the runs lack.
    (tmp_path / "empty").mkdir()
    _one_line_error(run_cli("--baseline", str(b), "--candidate", str(tmp_path / "empty")), "manifest.json")
    _one_line_error(run_cli("--baseline", "nobody@math500", "--candidate", str(b),
                            "--leaderboard", str(tmp_path / "lb")), "no leaderboard entry")
    _one_line_error(run_cli("--baseline", str(b), "--candidate", str(b), "--task", "gsm8k"), "'gsm8k'")
    with pytest.raises(UnusableInputError):
        check(str(b), str(tmp_path / "nope"))


def test_baseline_from_leaderboard_entry(tmp_path):
    from harness.leaderboard import add_run

    lb = tmp_path / "lb"
    base = baseline_scores()
    add_run(write_run(tmp_path / "b", base, model="runs/ckpt-base", config_hash="feedbeef1234"), lb,
            label="baseline", render=False)
    cand = write_run(tmp_path / "c", flipped(base, 60, 10), model="runs/ckpt-new", config_hash="0123abcd")
    for ref in ("ckpt-base@math500", "runs/ckpt-base@math500", "baseline@math500", "feedbeef"):
        res = run_cli("--baseline", ref, "--candidate", str(cand), "--leaderboard", str(lb))
        assert res.exit_code == 1, (ref, res.output)
        assert "runs/ckpt-base@math500 [feedbeef]" in res.output
    # Without the per-question sidecar the entry cannot be paired: exit 2 with the fix.
    (lb / "scores" / "feedbeef1234.jsonl").unlink()
    res = run_cli("--baseline", "feedbeef", "--candidate", str(cand), "--leaderboard", str(lb))
    _one_line_error(res, "per-question scores", "harness leaderboard add")


def test_groupings_and_several_samples_per_problem(tmp_path):
    """--by level / cell give per-level and per-(subject, level) rows; with 2 samples per problem the unit is
    the problem (n = problems, right-only counts over problems) and the report says so."""
    base = baseline_scores(n=200)
    b, c = write_run(tmp_path / "b", base), write_run(tmp_path / "c", flipped(base, 30, 5))
    res = run_cli("--baseline", str(b), "--candidate", str(c), "--by", "level")
    assert res.exit_code == 1 and "| level " in res.output and "| Level 5 " in res.output, res.output
    r = check(str(b), str(c), by="cell")
    labels = [row.group for row in r.tasks[0].groups]
    assert len(labels) == len(SUBJECTS) * 5 and "Algebra L1" in labels
    assert sum(row.diff.n for row in r.tasks[0].groups) == 200
    # Two samples per problem: problem i's sample 1 repeats sample 0 of the baseline, so candidate - baseline
    # moves each changed problem by 0.5.
    for d in (b, c):
        rows = [json.loads(line) for line in (d / "samples.jsonl").read_text().splitlines()]
        extra = [{**row, "sample_idx": 1, "correct_strict": ok, "correct_flexible": ok}
                 for row, ok in zip(rows, base)]
        (d / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows + extra))
    r = check(str(b), str(c))
    o = r.tasks[0].overall
    assert o.n == 200 and (o.b, o.c) == (30, 5) and o.diff == pytest.approx(-25 * 0.5 / 200)
    assert "several samples per problem" in r.report
    assert o.p_value == pytest.approx(mcnemar_exact(30, 5))
