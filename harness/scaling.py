"""Data scaling per cell, the Skywork-Math question: how does accuracy grow with synthetic data?

Input: a loop run directory's ``scaling.jsonl`` (one row per round and cell: ``round``, ``task``,
``subject``, ``level``, ``examples`` = cumulative synthetic examples trained on for that cell, ``k``
correct, ``n`` problems). For each cell we fit ``acc = a + b * ln(examples)`` by weighted least
squares over the rounds with ``examples > 0`` (weights ``n / (p(1-p))``, floored), report ``b`` with
its standard error, and estimate the examples needed to reach a target accuracy, with a range from
the slope's 95% interval. With fewer than 3 points, or a slope whose interval includes 0, we say the
points are too few to tell instead of extrapolating.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.io import read_jsonl_tolerant
from harness.stats import wilson_interval, z_value

SCALING_FILE = "scaling.jsonl"


@dataclass(frozen=True)
class CellFit:
    cell: str
    points: tuple[tuple[int, float, int], ...]  # (examples, acc, n)
    a: float | None
    b: float | None  # accuracy gained per e-fold of data
    b_se: float | None
    needed: float | None  # examples to reach target (point estimate)
    needed_range: tuple[float, float] | None
    verdict: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["points"] = [list(p) for p in self.points]
        return d


def cell_name(row: dict) -> str:
    lvl = row.get("level")
    return f"{row.get('task')}/{row.get('subject')}" + (f"/L{lvl}" if lvl is not None else "")


def _wls(xs: list[float], ys: list[float], ws: list[float]) -> tuple[float, float, float]:
    """Weighted least squares y = a + b x; returns (a, b, se_b) with se from the weights (known variances)."""
    sw = sum(ws)
    xm = sum(w * x for w, x in zip(ws, xs)) / sw
    ym = sum(w * y for w, y in zip(ws, ys)) / sw
    sxx = sum(w * (x - xm) ** 2 for w, x in zip(ws, xs))
    if sxx <= 0:
        return ym, 0.0, float("inf")
    b = sum(w * (x - xm) * (y - ym) for w, x, y in zip(ws, xs, ys)) / sxx
    a = ym - b * xm
    return a, b, math.sqrt(1.0 / sxx)


def fit_cell(cell: str, points: Iterable[tuple[int, int, int]], target: float | None) -> CellFit:
    """Fit one cell from ``(examples, k, n)`` points."""
    pts = sorted((int(e), int(k), int(n)) for e, k, n in points if n > 0)
    shown = tuple((e, k / n, n) for e, k, n in pts)
    use = [(e, k, n) for e, k, n in pts if e > 0]
    if len({e for e, _, _ in use}) < 3:
        return CellFit(cell, shown, None, None, None, None, None,
                       f"too few points to tell ({len(use)} with data > 0; need 3 distinct data sizes)")
    xs = [math.log(e) for e, _, _ in use]
    ys = [k / n for _, k, n in use]
    ws = []
    for _, k, n in use:
        p = min(max(k / n, 0.05), 0.95)  # floor the variance so 0% / 100% points do not get infinite weight
        ws.append(n / (p * (1 - p)))
    a, b, se = _wls(xs, ys, ws)
    z = z_value(0.95)
    lo, hi = b - z * se, b + z * se
    if lo <= 0:
        return CellFit(cell, shown, a, b, se, None, None,
                       f"slope {b * 100:+.1f} pts per e-fold, 95% CI [{lo * 100:+.1f}, {hi * 100:+.1f}] includes 0: "
                       "too few points to tell")
    needed = rng = None
    verdict = f"+{b * 100:.1f} pts per e-fold of data (95% CI {lo * 100:+.1f} to {hi * 100:+.1f})"
    if target is not None:
        if target > 1.0:
            verdict += f"; target {target:.0%} is above 100%"
        else:
            needed = math.exp((target - a) / b)
            last = max(e for e, _, _ in use)
            far, near = math.exp(min((target - a) / lo, 700)), math.exp(min((target - a) / hi, 700))
            rng = (min(near, far), max(near, far))
            if ys[-1] >= target:
                verdict += "; target already reached"
            else:
                verdict += f"; ~{needed:,.0f} examples to reach {target:.0%} (range {rng[0]:,.0f}-{rng[1]:,.0f}; have {last:,})"
    return CellFit(cell, shown, a, b, se, needed, rng, verdict)


def load_points(run_dir: str | os.PathLike) -> dict[str, list[tuple[int, int, int]]]:
    rows, _ = read_jsonl_tolerant(Path(run_dir) / SCALING_FILE)
    out: dict[str, list[tuple[int, int, int]]] = {}
    for r in rows:
        out.setdefault(cell_name(r), []).append((int(r["examples"]), int(r["k"]), int(r["n"])))
    return out


def fit_run(run_dir: str | os.PathLike, target: float | None = None) -> list[CellFit]:
    return [fit_cell(c, pts, target) for c, pts in sorted(load_points(run_dir).items())]


def scaling_table(fits: list[CellFit]) -> str:
    from tabulate import tabulate

    rows = []
    for f in fits:
        pts = ", ".join(f"{e:,}:{acc:.0%}" for e, acc, _ in f.points)
        rows.append([f.cell, pts, "-" if f.b is None else f"{f.b * 100:+.1f}", f.verdict])
    return tabulate(rows, headers=["cell", "examples:acc per round", "pts/e-fold", "verdict"], tablefmt="github")


def _short_verdict(f: CellFit) -> str:
    if f.b is None:
        return "no fit: too few data sizes"
    if f.needed is None and "includes 0" in f.verdict:
        return f"{f.b * 100:+.1f} pts/e-fold, CI includes 0"
    return f"{f.b * 100:+.1f} pts/e-fold"


def plot_scaling(fits: list[CellFit], path: str | os.PathLike) -> Path:
    """Write :func:`scaling_figure` as a PNG; returns its path."""
    import matplotlib.pyplot as plt

    fig = scaling_figure(fits)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def scaling_figure(fits: list[CellFit]):
    """Accuracy against log data size per cell, with 95% Wilson error bars and the fitted line.

    Every point is drawn at its true x (no jitter). Cells have their own hollow marker, each a size
    smaller than the last, so equal points of different cells stay visible as nested rings; each cell's
    rounds are joined by a dotted line. The fit
    ``a + b ln(examples)`` is drawn over the cell's data range and a little beyond (within 0-100%): solid
    when its slope is clearly positive, dashed when its interval includes 0; the legend gives each
    cell's verdict (cells with fewer than 3 data sizes have no fit, and say so).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    markers = "osD^vP*Xhp<>"
    fig, ax = plt.subplots(figsize=(8, 5))
    m = len(fits)
    for j, f in enumerate(fits):
        xs = [max(e, 1) for e, _, _ in f.points]
        ys = [acc for _, acc, _ in f.points]
        errs = [wilson_interval(round(acc * n), n) for _, acc, n in f.points]
        lo = [max(0.0, y - e[0]) for y, e in zip(ys, errs)]
        hi = [max(0.0, e[1] - y) for y, e in zip(ys, errs)]
        line = ax.errorbar(xs, ys, yerr=[lo, hi], marker=markers[j % len(markers)], markersize=min(20, 5 + 4 * (m - 1 - j)),
                           markerfacecolor="none", markeredgewidth=1.6, linestyle=":", linewidth=1.0, alpha=0.9,
                           capsize=3, label=f"{f.cell}: {_short_verdict(f)}")
        if f.b is not None and f.a is not None:
            pos = [e for e, _, _ in f.points if e > 0]
            x0, x1 = min(pos), max(pos) * 2
            grid = [x0 * (x1 / x0) ** (i / 30) for i in range(31)]
            ys_fit = [y if 0.0 <= y <= 1.0 else math.nan for y in (f.a + f.b * math.log(g) for g in grid)]
            solid = f.needed is not None or "includes 0" not in f.verdict
            ax.plot(grid, ys_fit, color=line[0].get_color(), linewidth=2.2 if solid else 1.4,
                    linestyle="-" if solid else (0, (4, 3)), alpha=0.55)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: "0" if abs(x - 1) < 1e-9 else f"{x:,.0f}"))
    ax.set_xlabel("cumulative synthetic examples for the cell (log scale; 0 drawn at 1)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.03, 1.06)
    ax.set_title("Accuracy vs synthetic data per cell (95% CI; lines: fit a + b ln(examples))")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    return fig
