"""Leaderboard plots (matplotlib, Agg backend, PNG), written next to the Markdown tables.

- ``<task>_by_subject.png``: per-subject accuracy bars of the latest run of each model (up to
  :data:`MAX_MODELS`), with 95% CI error bars and each bar's value written above it (a 0% bar is a
  labelled stub, not a gap); the legend sits below the axes, never over a bar; the y axis runs past
  100% so a CI cap at 100% is drawn, not clipped.
- ``<task>_rounds.png``: accuracy over closed-loop rounds (x = round, y = accuracy with 95% CI,
  strict and flexible) when records carry a ``round``. The two modes are drawn side by side (dodged,
  solid vs dashed, filled vs open markers), so equal values never hide one line under the other, and
  the legend says when they are identical.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

MAX_MODELS = 6


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _when(r: dict) -> tuple[str, str]:
    return (str(r.get("date") or ""), str(r.get("added") or ""))


def latest_per_model(rows: Sequence[dict], task: str) -> list[dict]:
    """The most recent record (by run date, then time added) of each model (and label) on ``task``."""
    best: dict[tuple, dict] = {}
    for r in rows:
        if r.get("task") != task:
            continue
        k = (r.get("model"), r.get("label"))
        if k not in best or _when(r) >= _when(best[k]):
            best[k] = r
    return sorted(best.values(), key=_when, reverse=True)[:MAX_MODELS]


def _err(v: dict) -> tuple[float | None, float, float]:
    """``(acc %, lower error, upper error)``; acc None for a group without samples."""
    if v.get("acc") is None:
        return None, 0.0, 0.0
    acc = 100.0 * v["acc"]
    lo, hi = (v.get("ci") or [None, None])[:2]
    lo = acc if lo is None else 100.0 * lo
    hi = acc if hi is None else 100.0 * hi
    return acc, max(0.0, acc - lo), max(0.0, hi - acc)


def _percent_axis(ax, label: str) -> None:
    """0-100% ticks on an axis that runs to 112 (room for caps at 100% and value labels above them)."""
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(label)
    ax.axhline(100, color="0.85", lw=0.8, zorder=0)


def _save(fig, path: str | os.PathLike) -> Path:
    p = Path(path)
    fig.savefig(p, format="png", dpi=100, bbox_inches="tight")
    return p


def plot_subjects(rows: Sequence[dict], task: str, path: str | os.PathLike, mode: str = "strict") -> Path | None:
    """Grouped bars: subjects on x, one bar per model (latest run), 95% CI error bars, values on top.

    Returns:
        The PNG path, or None when no record of ``task`` has per-subject metrics.
    """
    fig = subjects_figure(rows, task, mode)
    if fig is None:
        return None
    p = _save(fig, path)
    _plt().close(fig)
    return p


def subjects_figure(rows: Sequence[dict], task: str, mode: str = "strict"):
    """The matplotlib figure :func:`plot_subjects` saves (None when there is nothing to plot)."""
    recs = [r for r in latest_per_model(rows, task) if r.get("by_subject")]
    subjects = sorted({s for r in recs for s in r["by_subject"]})
    if not recs or not subjects:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.0, (0.45 * len(recs) + 0.5) * len(subjects) + 2), 4.8))
    width = 0.8 / len(recs)
    for j, r in enumerate(recs):
        vals = [_err(((r["by_subject"].get(s) or {}).get(mode)) or {}) for s in subjects]
        xs = [i + (j - (len(recs) - 1) / 2) * width for i in range(len(subjects))]
        name = str(r.get("model"))
        name = (name if len(name) <= 40 else "…" + name[-39:]) + (f" ({r['label']})" if r.get("label") else "")
        ax.bar(xs, [v[0] or 0.0 for v in vals], width * 0.92, label=name, zorder=2)  # 0%: no bar, its "0" label
        ax.errorbar(xs, [v[0] or 0.0 for v in vals], yerr=[[v[1] for v in vals], [v[2] for v in vals]],
                    fmt="none", ecolor="black", elinewidth=1, capsize=3, zorder=3)
        for x, (acc, _, up) in zip(xs, vals):
            if acc is None:
                ax.text(x, 1.5, "n/a", ha="center", va="bottom", fontsize=7, rotation=90, color="0.4")
                continue
            ax.text(x, acc + up + 1.0, f"{acc:.0f}", ha="center", va="bottom", fontsize=7, zorder=4)
    ax.set_xticks(range(len(subjects)))
    ax.set_xticklabels(subjects, rotation=30 if len(subjects) > 3 else 0, ha="right" if len(subjects) > 3 else "center")
    _percent_axis(ax, f"{mode} accuracy (%)")
    ax.set_xlim(-0.6, len(subjects) - 0.4)
    ax.set_title(f"{task}: accuracy by subject (latest run per model, 95% CI)")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(subjects) > 3 else -0.1),
              ncol=min(2, len(recs)), frameon=False)
    return fig


def _round_sort_key(x: str):
    try:
        return (0, float(x), "")
    except ValueError:
        return (1, 0.0, x)


def plot_rounds(rows: Sequence[dict], task: str, path: str | os.PathLike) -> Path | None:
    """Accuracy over loop rounds (latest record per round), strict and flexible, with 95% CI.

    Returns:
        The PNG path, or None when no record of ``task`` has a round.
    """
    fig = rounds_figure(rows, task)
    if fig is None:
        return None
    p = _save(fig, path)
    _plt().close(fig)
    return p


def rounds_figure(rows: Sequence[dict], task: str):
    """The matplotlib figure :func:`plot_rounds` saves (None when no record of ``task`` has a round)."""
    per_round: dict[str, dict] = {}
    for r in rows:
        if r.get("task") != task or r.get("round") is None:
            continue
        k = str(r["round"])
        if k not in per_round or _when(r) >= _when(per_round[k]):
            per_round[k] = r
    if not per_round:
        return None
    rounds = sorted(per_round, key=_round_sort_key)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(rounds) + 3), 4.2))
    series = {m: [_err(per_round[k].get(m) or {}) for k in rounds] for m in ("strict", "flexible")}
    same = [v[0] for v in series["strict"]] == [v[0] for v in series["flexible"]]
    styles = {"strict": ("o", "-", -0.06, "full"), "flexible": ("s", "--", 0.06, "none")}
    for mode, vals in series.items():
        marker, ls, dx, fill = styles[mode]
        pts = [(i + dx, v) for i, v in enumerate(vals) if v[0] is not None]
        label = f"{mode} (identical to strict)" if mode == "flexible" and same else mode
        ax.errorbar([x for x, _ in pts], [v[0] for _, v in pts], yerr=[[v[1] for _, v in pts], [v[2] for _, v in pts]],
                    marker=marker, linestyle=ls, fillstyle=fill, markersize=7, capsize=3, label=label)
    for i, v in enumerate(series["strict"]):
        if v[0] is not None:
            ax.annotate(f"{v[0]:.1f}", (i - 0.06, v[0] + v[2]), textcoords="offset points", xytext=(0, 4),
                        ha="center", fontsize=7)
    ax.set_xticks(range(len(rounds)))
    ax.set_xticklabels(rounds)
    ax.set_xlim(-0.5, len(rounds) - 0.5)
    ax.set_xlabel("loop round")
    _percent_axis(ax, "accuracy (%)")
    ax.set_title(f"{task}: accuracy over rounds (95% CI)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    return fig


def render_plots(rows: Sequence[dict], task: str, out_dir: str | os.PathLike) -> list[Path]:
    """Write every plot that applies to ``task`` into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    written = [
        plot_subjects(rows, task, out / f"{task}_by_subject.png"),
        plot_rounds(rows, task, out / f"{task}_rounds.png"),
    ]
    return [p for p in written if p is not None]
