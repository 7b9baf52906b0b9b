"""Data-scaling fits (harness/scaling.py) and `harness scaling` on constructed loop records.

Run: ``python3 -m pytest -q tests/test_scaling.py``.
"""

from __future__ import annotations

import json
import math
import random

from click.testing import CliRunner

from harness.cli import main
from harness.scaling import SCALING_FILE, fit_cell, fit_run


def _write_points(run_dir, cell_points):
    rows = []
    for (subject, level), pts in cell_points.items():
        for r, (examples, k, n) in enumerate(pts):
            rows.append({"round": r, "task": "bench", "subject": subject, "level": level,
                         "examples": examples, "k": k, "n": n})
    (run_dir / SCALING_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_fit_recovers_a_known_log_slope():
    # acc = 0.1 + 0.1 * ln(examples), sampled with n = 2000 per point (binomial noise, fixed seed)
    rng = random.Random(0)
    pts = []
    for e in (100, 300, 1000, 3000, 10000):
        p = 0.1 + 0.1 * math.log(e) - 0.4
        n = 2000
        k = sum(rng.random() < p for _ in range(n))
        pts.append((e, k, n))
    f = fit_cell("c", pts, target=0.8)
    assert f.b is not None and abs(f.b - 0.1) < 0.01
    assert f.needed is not None and f.needed_range is not None
    true_needed = math.exp((0.8 + 0.4 - 0.1) / 0.1)
    assert f.needed_range[0] <= true_needed <= f.needed_range[1]
    assert "examples to reach 80%" in f.verdict


def test_too_few_points_or_flat_slope_is_said_not_extrapolated():
    few = fit_cell("c", [(0, 10, 50), (1000, 30, 50), (2000, 35, 50)], target=0.9)
    assert few.needed is None and "too few points" in few.verdict
    flat = fit_cell("c", [(100, 25, 50), (1000, 24, 50), (10000, 26, 50)], target=0.9)
    assert flat.needed is None and "includes 0" in flat.verdict


def test_scaling_command_writes_table_and_png(tmp_path):
    _write_points(tmp_path, {
        ("digits/tens", 1): [(0, 5, 40), (1600, 20, 40), (3200, 30, 40), (6400, 38, 40)],
        ("digits/units", 1): [(0, 40, 40), (400, 40, 40)],
    })
    res = CliRunner().invoke(main, ["scaling", str(tmp_path), "--target", "0.95"])
    assert res.exit_code == 0, res.output
    assert "digits/tens" in res.output and "digits/units" in res.output
    assert "too few points" in res.output  # units has one point with data
    png = tmp_path / "scaling.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fits = {f.cell: f for f in fit_run(tmp_path, 0.95)}
    assert fits["bench/digits/tens/L1"].b > 0


def test_scaling_command_without_records_is_one_error(tmp_path):
    res = CliRunner().invoke(main, ["scaling", str(tmp_path)])
    assert res.exit_code == 1
    assert res.output.strip().startswith("Error:") and SCALING_FILE in res.output


def test_plot_keeps_equal_points_apart_and_draws_the_fits():
    """Every point is drawn at its true x (no jitter); two cells with the same points stay visible as
    nested hollow markers of different sizes; a fitted cell gets its fit line."""
    from harness.scaling import scaling_figure

    same = [(0, 40, 40), (400, 40, 40), (800, 40, 40), (1600, 40, 40)]
    rising = [(0, 5, 40), (1600, 20, 40), (3200, 30, 40), (6400, 38, 40)]
    fits = [fit_cell("a", same, None), fit_cell("b", same, None), fit_cell("c", rising, 0.95)]
    ax = scaling_figure(fits).axes[0]
    la, lb = (c.lines[0] for c in ax.containers[:2])
    assert list(la.get_xdata()) == list(lb.get_xdata()) == [1, 400, 800, 1600]  # true x (0 drawn at 1)
    assert la.get_markersize() != lb.get_markersize() and la.get_markerfacecolor() == "none"
    assert fits[2].b is not None and fits[2].b > 0
    fit_lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 10]
    assert len(fit_lines) == 3  # c's fit, and the flat (dashed) fits of a and b
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[2].startswith("c: +") and "CI includes 0" in legend[0]
