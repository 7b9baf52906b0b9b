"""Leaderboard plots (matplotlib, Agg backend, PNG), written next to the Markdown tables.

- ``<task>_by_subject.png``: per-subject accuracy bars of the latest run of each model (up to
  :data:`MAX_MODELS`), with 95% CI error bars.
- ``<task>_rounds.png``: accuracy over closed-loop rounds (x = round, y = accuracy with 95% CI,
  strict and flexible) when records carry a ``round``.
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


def _err(v: dict) -> tuple[float, float, float]:
    acc = 100.0 * (v.get("acc") or 0.0)
    lo, hi = (v.get("ci") or [None, None])[:2]
    lo = acc if lo is None else 100.0 * lo
    hi = acc if hi is None else 100.0 * hi
    return acc, max(0.0, acc - lo), max(0.0, hi - acc)


def plot_subjects(rows: Sequence[dict], task: str, path: str | os.PathLike, mode: str = "strict") -> Path | None:
    """Grouped bars: subjects on x, one bar per model (latest run), 95% CI error bars.

    Returns:
        The PNG path, or None when no record of ``task`` has per-subject metrics.
    """
    recs = [r for r in latest_per_model(rows, task) if r.get("by_subject")]
    subjects = sorted({s for r in recs for s in r["by_subject"]})
    if not recs or not subjects:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(subjects) + 2), 4.5))
    width = 0.8 / len(recs)
    for j, r in enumerate(recs):
        accs, lows, highs = [], [], []
        for s in subjects:
            a, lo, hi = _err(((r["by_subject"].get(s) or {}).get(mode)) or {})
            accs.append(a)
            lows.append(lo)
            highs.append(hi)
        xs = [i + (j - (len(recs) - 1) / 2) * width for i in range(len(subjects))]
        name = str(r.get("model"))
        name = (name if len(name) <= 40 else "…" + name[-39:]) + (f" ({r['label']})" if r.get("label") else "")
        ax.bar(xs, accs, width, yerr=[lows, highs], capsize=3, label=name)
    ax.set_xticks(range(len(subjects)))
    ax.set_xticklabels(subjects, rotation=30, ha="right")
    ax.set_ylabel(f"{mode} accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{task}: accuracy by subject (latest run per model, 95% CI)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, format="png", dpi=100)
    plt.close(fig)
    return p


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
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(rounds) + 3), 4.0))
    for mode, marker in (("strict", "o"), ("flexible", "s")):
        vals = [_err(per_round[k].get(mode) or {}) for k in rounds]
        ax.errorbar(range(len(rounds)), [v[0] for v in vals], yerr=[[v[1] for v in vals], [v[2] for v in vals]],
                    marker=marker, capsize=3, label=mode)
    ax.set_xticks(range(len(rounds)))
    ax.set_xticklabels(rounds)
    ax.set_xlabel("loop round")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{task}: accuracy over rounds (95% CI)")
    ax.legend()
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, format="png", dpi=100)
    plt.close(fig)
    return p


def render_plots(rows: Sequence[dict], task: str, out_dir: str | os.PathLike) -> list[Path]:
    """Write every plot that applies to ``task`` into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    written = [
        plot_subjects(rows, task, out / f"{task}_by_subject.png"),
        plot_rounds(rows, task, out / f"{task}_rounds.png"),
    ]
    return [p for p in written if p is not None]
