"""Tests for the leaderboard (harness/leaderboard.py, harness/plots.py, harness/cli/leaderboard.py).

Run directories are written here (manifest.json + samples.jsonl with known scores) and added through
the real CLI (click's runner on ``harness.cli.main``); concurrency uses two real OS processes adding to
one leaderboard at once; PNGs are checked by magic bytes and by reading them back with matplotlib.

Run: ``python3 -m pytest -q tests/test_leaderboard.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.leaderboard import RECORDS, read_records

REPO = Path(__file__).resolve().parents[1]
SUBJECTS = ("Algebra", "Counting & Probability", "Geometry", "Number Theory")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(d: Path, n_right: int, n: int = 40, *, model: str = "m", task: str = "math500",
              config_hash: str = "h0000001", date: str = "2025-01-02T00:00:00+00:00", n_flex_extra: int = 0) -> Path:
    """A run directory: the first ``n_right`` of ``n`` problems correct (strict); flexible adds ``n_flex_extra``."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.json").write_text(json.dumps({
        "model": model, "backend": "hf", "tasks": {task: "1.0"}, "split": "test",
        "prompt": {"name": "cot", "version": "1"}, "n_shot": 0, "sampling": {"n": 1, "temperature": 0.0},
        "limit": n, "commit": "abc123def456", "date": date, "config_hash": config_hash,
    }))
    with (d / "samples.jsonl").open("w") as f:
        for i in range(n):
            f.write(json.dumps({
                "task": task, "id": str(i), "sample_idx": 0, "subject": SUBJECTS[i % len(SUBJECTS)],
                "level": i % 5 + 1, "correct_strict": i < n_right, "correct_flexible": i < n_right + n_flex_extra,
            }) + "\n")
    return d


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_add_records_metrics_and_renders_tables(tmp_path):
    lb = tmp_path / "lb"
    run = write_run(tmp_path / "r1", n_right=30, n_flex_extra=4, model="ckpt/base")
    res = cli("leaderboard", "add", str(run), "--leaderboard", str(lb), "--label", "baseline")
    assert res.exit_code == 0, res.output
    assert "math500: added" in res.output
    [rec] = read_records(lb).rows
    for k in ("model", "backend", "task", "task_version", "prompt", "prompt_version", "n_shot", "samples",
              "commit", "date", "config_hash", "run", "label"):
        assert rec[k] is not None, k
    assert rec["strict"]["acc"] == pytest.approx(0.75) and rec["strict"]["n"] == 40
    assert rec["flexible"]["acc"] == pytest.approx(34 / 40)
    lo, hi = rec["strict"]["ci"]
    assert lo < 0.75 < hi
    assert set(rec["by_subject"]) == set(SUBJECTS)
    assert rec["by_level"]["1"]["strict"]["n"] == 8
    # Per-question sidecar for `harness check`.
    scores = (lb / "scores" / "h0000001.jsonl").read_text().splitlines()
    assert len(scores) == 40 and json.loads(scores[0])["strict"] == 1
    # Rendered tables, each saying how to regenerate it.
    for name in ("math500.md", "math500_by_subject.md", "math500_by_level.md"):
        text = (lb / name).read_text()
        assert "harness leaderboard show --task math500" in text.splitlines()[0]
        assert "ckpt/base" in text and "abc123def456" in text and "2025-01-02" in text
    overall = (lb / "math500.md").read_text()
    for col in ("#", "model", "strict", "strict 95% CI", "flexible", "n", "prompt", "n-shot", "date", "commit"):
        assert f" {col} " in overall
    assert "75.0" in overall and "85.0" in overall


def test_same_config_added_twice_is_replaced_not_doubled(tmp_path):
    lb = tmp_path / "lb"
    run = write_run(tmp_path / "r1", n_right=10)
    assert "added" in cli("leaderboard", "add", str(run), "--leaderboard", str(lb), "--no-render").output
    write_run(tmp_path / "r1", n_right=20)  # the run was resumed/re-scored: same config_hash
    res = cli("leaderboard", "add", str(run), "--leaderboard", str(lb), "--no-render")
    assert "replaced the existing entry" in res.output and "1 records" in res.output
    rows = read_records(lb).rows
    assert len(rows) == 1 and rows[0]["strict"]["acc"] == pytest.approx(0.5)
    write_run(tmp_path / "r2", n_right=5, config_hash="h0000002")
    cli("leaderboard", "add", str(tmp_path / "r2"), "--leaderboard", str(lb), "--no-render")
    assert len(read_records(lb).rows) == 2


def test_show_formats_and_groupings(tmp_path):
    lb = tmp_path / "lb"
    cli("leaderboard", "add", str(write_run(tmp_path / "a", 12, model="weak", config_hash="aa")), "--leaderboard",
        str(lb), "--no-render")
    cli("leaderboard", "add", str(write_run(tmp_path / "b", 32, model="strong", config_hash="bb")), "--leaderboard",
        str(lb), "--no-render")
    cli("leaderboard", "add", str(write_run(tmp_path / "g", 7, n=10, model="strong", task="gsm8k",
                                            config_hash="cc")), "--leaderboard", str(lb), "--no-render")
    md = cli("leaderboard", "show", "--leaderboard", str(lb), "--task", "math500")
    assert md.exit_code == 0, md.output
    lines = [ln for ln in md.output.splitlines() if ln.startswith("| ")]
    assert "strong" in lines[1] and "80.0" in lines[1] and "weak" in lines[2] and "30.0" in lines[2]  # best first
    assert "gsm8k" not in md.output
    both = cli("leaderboard", "show", "--leaderboard", str(lb)).output
    assert "### gsm8k" in both and "### math500" in both and "70.0" in both

    csv = cli("leaderboard", "show", "--leaderboard", str(lb), "--format", "csv").output
    import csv as csvmod
    import io

    rows = list(csvmod.DictReader(io.StringIO(csv)))
    assert len(rows) == 3
    by = {(r["task"], r["model"]): r for r in rows}
    assert float(by[("math500", "strong")]["strict"]) == 80.0
    assert float(by[("math500", "strong")]["strict ci_low"]) < 80.0 < float(by[("math500", "strong")]["strict ci_high"])

    html = cli("leaderboard", "show", "--leaderboard", str(lb), "--format", "html", "--task", "math500").output
    assert html.lstrip().startswith("<table") and "<td>strong</td>" in html and "&amp;" not in html.split("<td>")[0]

    subj = cli("leaderboard", "show", "--leaderboard", str(lb), "--task", "math500", "--by", "subject").output
    header = subj.splitlines()[0]
    for s in SUBJECTS:
        assert s in header
    lvl = cli("leaderboard", "show", "--leaderboard", str(lb), "--task", "math500", "--by", "level",
              "--format", "csv").output
    for k in range(1, 6):
        assert f"Level {k}," in lvl
    unknown = cli("leaderboard", "show", "--leaderboard", str(lb), "--task", "math5000")
    assert unknown.exit_code == 1 and "Did you mean 'math500'" in unknown.output


def test_several_samples_per_problem_use_per_problem_means(tmp_path):
    """--n 2: accuracy is the mean of per-problem means; the CI is clustered by problem."""
    from harness.metrics import accuracy
    from harness.records import Sample

    run = write_run(tmp_path / "r", 0, n=0)
    with (run / "samples.jsonl").open("w") as f:
        for i in range(20):  # problems 0-9: both samples right; 10-14: one of two; 15-19: none
            for k in range(2):
                right = i < 10 or (i < 15 and k == 0)
                f.write(json.dumps({"task": "math500", "id": str(i), "sample_idx": k, "subject": "Algebra",
                                    "level": 1, "correct_strict": right, "correct_flexible": right}) + "\n")
    lb = tmp_path / "lb"
    assert cli("leaderboard", "add", str(run), "--leaderboard", str(lb), "--no-render").exit_code == 0
    [rec] = read_records(lb).rows
    assert rec["strict"]["acc"] == pytest.approx(12.5 / 20)
    assert (rec["strict"]["n"], rec["strict"]["n_samples"]) == (20, 40)
    means = [1.0] * 10 + [0.5] * 5 + [0.0] * 5
    m = sum(means) / 20
    half = 1.959964 * (sum((x - m) ** 2 for x in means) / 19 / 20) ** 0.5
    assert rec["strict"]["ci"] == pytest.approx([m - half, m + half], abs=1e-5)
    one_each = [Sample(task="t", id=str(i), correct_strict=i < 3) for i in range(4)]
    assert accuracy(one_each).ci[1] < 1.0  # one sample each: Wilson


def test_corrupt_line_reported_skipped_and_kept(tmp_path):
    lb = tmp_path / "lb"
    cli("leaderboard", "add", str(write_run(tmp_path / "a", 10, model="first", config_hash="aa")),
        "--leaderboard", str(lb), "--no-render")
    with (lb / RECORDS).open("a") as f:
        f.write('{"task": "math500", "model": "torn\n')
    res = cli("leaderboard", "add", str(write_run(tmp_path / "b", 20, model="second", config_hash="bb")),
              "--leaderboard", str(lb), "--no-render")
    assert res.exit_code == 0, res.output
    assert "1 corrupt line(s)" in res.output and "line 2" in res.output
    shown = cli("leaderboard", "show", "--leaderboard", str(lb))
    assert shown.exit_code == 0
    assert "first" in shown.output and "second" in shown.output
    assert "skipped 1 corrupt line" in shown.output and f"{RECORDS}:2" in shown.output
    lines = (lb / RECORDS).read_text().splitlines()
    assert len(lines) == 3 and lines[1] == '{"task": "math500", "model": "torn'


def test_plots_are_valid_pngs(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    lb = tmp_path / "lb"
    for i, right in enumerate((10, 18, 25)):
        run = write_run(tmp_path / f"r{i}", right, model=f"round{i}", config_hash=f"h{i}",
                        date=f"2025-01-0{i + 1}T00:00:00+00:00")
        res = cli("leaderboard", "add", str(run), "--leaderboard", str(lb), "--round", str(i))
        assert res.exit_code == 0, res.output
    for name in ("math500_by_subject.png", "math500_rounds.png"):
        p = lb / name
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 1000
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100


CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from harness.leaderboard import add_run
    src, lb, tag, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    for i in range(n):
        d = src / f"{tag}{i}"
        d.mkdir(parents=True)
        m = json.loads((src / "manifest.json").read_text())
        m["config_hash"] = f"{tag}{i:04d}"
        (d / "manifest.json").write_text(json.dumps(m))
        (d / "samples.jsonl").write_text((src / "samples.jsonl").read_text())
        add_run(d, lb, render=False)
""")


@pytest.mark.slow
def test_two_processes_adding_at_once_lose_nothing(tmp_path):
    src = write_run(tmp_path / "src", 5, n=10)
    lb = tmp_path / "lb"
    n = 40
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(lb), tag, str(n)], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("p", "q")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    lines = (lb / RECORDS).read_text().splitlines()
    assert len(lines) == 2 * n
    hashes = {json.loads(line)["config_hash"] for line in lines}
    assert hashes == {f"{t}{i:04d}" for t in "pq" for i in range(n)}
    assert len(list((lb / "scores").glob("*.jsonl"))) == 2 * n


@pytest.mark.slow
def test_real_tiny_model_run_add_show_check(tmp_path, data_dir, tiny_checkpoint, monkeypatch):
    """A REAL `harness eval` run dir (tiny Llama, math500 --limit 3) goes through add, show and check."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    lb = tmp_path / "lb"
    runs = {}
    for name, limit in (("full", "3"), ("short", "2")):
        out = tmp_path / name
        res = cli("eval", "--model", str(tiny_checkpoint), "--tasks", "math500", "--limit", limit,
                  "--max-new-tokens", "4", "--no-progress", "--data-dir", str(data_dir), "--output-dir", str(out))
        assert res.exit_code == 0, res.output
        runs[name] = out
    res = cli("leaderboard", "add", str(runs["full"]), "--leaderboard", str(lb), "--label", "tiny")
    assert res.exit_code == 0, res.output
    [rec] = read_records(lb).rows
    manifest = json.loads((runs["full"] / "manifest.json").read_text())
    assert rec["config_hash"] == manifest["config_hash"] and rec["commit"] == manifest["commit"]
    assert rec["task"] == "math500" and rec["strict"]["n"] == 3 and rec["prompt"] == manifest["prompt"]["name"]
    assert 0.0 <= rec["strict"]["acc"] <= 1.0 and rec["by_subject"] and rec["by_level"]
    assert (lb / "math500.md").is_file() and (lb / "math500_by_subject.png").read_bytes()[:8] == PNG_MAGIC
    shown = cli("leaderboard", "show", "--leaderboard", str(lb), "--task", "math500", "--by", "level")
    assert shown.exit_code == 0 and "tiny" in shown.output
    # The same run checked against its own leaderboard entry: no difference, exit 0.
    ok = cli("check", "--baseline", "tiny@math500", "--candidate", str(runs["full"]), "--leaderboard", str(lb))
    assert ok.exit_code == 0, ok.output
    assert "PASS" in ok.output and "+0.0" in ok.output
    # A run on fewer problems cannot be paired with it: exit 2, one line.
    bad = cli("check", "--baseline", "tiny@math500", "--candidate", str(runs["short"]), "--leaderboard", str(lb))
    assert bad.exit_code == 2 and "candidate is missing 1 of 3" in bad.output, bad.output


def test_plots_show_zero_bars_uncut_cis_and_both_round_lines(tmp_path):
    """Issue 13's plot defects: the legend never covers a bar, a 0% bar has no height and shows its value "0",
    a CI cap at 100% lies inside the axes, and an identical flexible line does not hide the strict one."""
    from matplotlib.collections import LineCollection

    from harness.plots import rounds_figure, subjects_figure

    lb = tmp_path / "lb"
    for i, right in enumerate((0, 40)):  # round 0: every subject 0%; round 1: every subject 100%
        run = write_run(tmp_path / f"r{i}", right, model=f"m{i}", config_hash=f"h{i}", date=f"2025-01-0{i + 1}")
        assert cli("leaderboard", "add", str(run), "--leaderboard", str(lb), "--round", str(i),
                   "--no-render").exit_code == 0
    rows = read_records(lb).rows
    fig = subjects_figure(rows, "math500")
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert not any(legend.overlaps(b.get_window_extent()) for b in ax.patches)
    assert ax.get_ylim()[1] > 100  # caps at 100% are drawn, not clipped
    zero = [b for b in ax.patches if b.get_height() == 0]
    assert len(zero) == len(SUBJECTS)  # round 0: every bar is 0%, drawn with no height...
    assert not [c for c in ax.collections if isinstance(c, LineCollection) and c.get_linewidth()[0] >= 3]
    assert sum(t.get_text() == "0" for t in ax.texts) == len(SUBJECTS)
    fig = rounds_figure(rows, "math500")
    ax = fig.axes[0]
    strict, flexible = (c.lines[0] for c in ax.containers)  # the data line of each errorbar series
    assert list(strict.get_ydata()) == list(flexible.get_ydata())  # identical values...
    assert all(a != b for a, b in zip(strict.get_xdata(), flexible.get_xdata()))  # ...drawn side by side
    assert strict.get_linestyle() != flexible.get_linestyle()
    assert "identical to strict" in [t.get_text() for t in ax.get_legend().get_texts()][1]
