"""Weak-topic selection: which (task, subject, level) cells of an eval run to make new problems for.

A *cell* is :attr:`harness.records.Sample.cell`, ``(task, subject, level)``: MATH subject x level,
GSM8K as one cell (subject "GSM8K", level None), or any task's own ``subject``/``level`` fields
(OlympiadBench subfield, Minerva course, AIME/AMC exam). Cell accuracies and their intervals are
:func:`harness.metrics.accuracy` (the problem is the unit: avg@k with a CI clustered by problem when
there are several samples), the same figures results.json, the leaderboard and ``harness check`` show.

Ranking (documented in the plan as ``why``):

- reference accuracy ``ref`` = ``--target`` when given (mode "target"), else the task's overall
  accuracy in this run (mode "overall");
- ``gap = ref - acc``; ``share = n_cell / n_task``; ``score = share * gap`` is the task-accuracy
  gain if the cell were lifted to ``ref`` (the expected value of fixing it);
- a cell is *chosen* only when we are sure it is weak: the upper end of its Wilson interval is below
  ``ref``. Cells with fewer than ``min_samples`` problems are reported as "too few samples", never chosen.

Figures in the plan are unrounded (the table rounds them for display).

The ``budget`` (total new problems) is split over chosen cells in proportion to ``score``
(largest remainder, at least one each).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness import metrics
from harness.errors import DataError
from harness.io import atomic_write_json, git_commit, now_iso
from harness.options import check
from harness.records import Mode, Sample, load_run

log = logging.getLogger(__name__)

PLAN_VERSION = "1"


@dataclass(frozen=True)
class WeakConfig:
    """Options of :func:`select_weak` (the ``harness weak`` flags, generated from these fields; the loop's
    ``weak:`` keys)."""

    WHAT: ClassVar[str] = "weak-cell config"

    top: int = field(default=5, metadata={"help": "how many weak cells to choose", "min": 1})
    min_samples: int = field(default=20, metadata={
        "help": "cells with fewer problems are reported, never chosen", "min": 1})
    target: float | None = field(default=None, metadata={
        "help": "reference accuracy (default: the task's overall accuracy)", "min": 0, "max": 1})
    budget: int = field(default=1000, metadata={
        "help": "total new problems, split over chosen cells by score", "min": 0})
    mode: Mode = field(default="strict", metadata={
        "help": "grading mode of the cell accuracies (tol_*: the task's numeric tolerance, where it has one)"})
    confidence: float = field(default=0.95, metadata={
        "help": "level of the Wilson interval that must lie below the reference", "gt": 0, "lt": 1})

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class CellStat:
    """One cell's accuracy over problems (:func:`harness.metrics.accuracy`) and its task's size."""

    task: str
    subject: str | None
    level: int | None
    n: int  # problems
    acc: float
    ci: tuple[float, float]
    task_n: int  # problems of the task
    task_acc: float  # accuracy of the whole task (the default reference of a cell's gap)

    @property
    def k(self) -> float:
        """Sum of per-problem scores (correct problems with one sample each)."""
        return self.acc * self.n


def cell_stats(samples: Iterable[Sample | Mapping], mode: str = "strict",
               confidence: float = 0.95) -> list[CellStat]:
    """Per-cell accuracy (problems as units) of a run's samples.

    Args:
        samples: :class:`~harness.records.Sample` s, or raw samples.jsonl objects.
        mode: ``strict``, ``flexible`` (or ``tol_*`` for tolerance tasks).
        confidence: CI level.

    Returns:
        One :class:`CellStat` per cell, sorted by (task, subject, level).

    Raises:
        DataError: a record lacks its verdict in ``mode``.
    """
    samples = metrics.as_samples(samples)
    for s in samples:
        if not s.has(mode):
            raise DataError(
                f"Expected sample records with a {mode!r} verdict (as `harness eval` writes: "
                f"correct_strict, correct_flexible), found keys {sorted(s.to_dict())}. "
                "Pass the output directory of a `harness eval` run."
            )
    tasks = metrics.accuracy_by(samples, "task", mode, confidence)
    return [CellStat(t, sub, lvl, a.n, a.acc, a.ci, tasks[t].n, tasks[t].acc)  # type: ignore[arg-type]
            for (t, sub, lvl), a in metrics.accuracy_by(samples, "cell", mode, confidence).items()]


def _allocate(scores: list[float], budget: int) -> list[int]:
    """Split ``budget`` over items in proportion to ``scores`` (largest remainder, >= 1 each)."""
    if not scores:
        return []
    total = sum(scores) or float(len(scores))
    raw = [budget * (s if sum(scores) else 1.0) / total for s in scores]
    base = [max(1, int(r)) for r in raw]
    left = budget - sum(base)
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in order[: max(0, left)]:
        base[i] += 1
    return base


def select_weak(samples: Iterable[Sample | Mapping], cfg: WeakConfig = WeakConfig(), *,
                source_run: str = "") -> dict:
    """Rank the cells of a run and build the plan that ``harness synth`` reads.

    Args:
        samples: the run's sample records.
        cfg: selection options.
        source_run: recorded in the plan.

    Returns:
        The plan dict: ``source_run, mode, target, reference, cells, skipped, budget, ...``.

    Raises:
        DataError: no samples.
    """
    samples = metrics.as_samples(samples)
    if not samples:
        raise DataError("The run has no samples; nothing to rank. Run `harness eval` first (or let it finish).")
    stats = cell_stats(samples, cfg.mode, cfg.confidence)
    overall = {c.task: c.task_acc for c in stats}
    ranked: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for c in stats:
        ref = cfg.target if cfg.target is not None else overall[c.task]
        lo, hi = c.ci
        gap = ref - c.acc
        share = c.n / c.task_n
        row: dict[str, Any] = {
            "task": c.task,
            "subject": c.subject,
            "level": c.level,
            "n": c.n,
            "acc": c.acc,
            "ci": [lo, hi],
            "gap": gap,
            "share": share,
            "score": share * gap,
        }
        refname = "target" if cfg.target is not None else f"{c.task} overall"
        if c.n < cfg.min_samples:
            skipped.append({**row, "why": f"too few samples ({c.n} < {cfg.min_samples})"})
        elif gap <= 0:
            skipped.append({**row, "why": f"at or above {refname} {ref:.3f}"})
        elif hi >= ref:
            skipped.append({**row, "why": f"not surely weak: CI upper {hi:.3f} >= {refname} {ref:.3f}"})
        else:
            row["why"] = (
                f"acc {c.acc:.3f} (CI {lo:.3f}-{hi:.3f}) below {refname} {ref:.3f}; "
                f"{share:.1%} of {c.task} x gap {gap:.3f} = {share * gap:.4f}"
            )
            ranked.append(row)
    ranked.sort(key=lambda r: (-r["score"], r["task"], str(r["subject"]), r["level"] or 0))
    chosen, rest = ranked[: cfg.top], ranked[cfg.top :]
    for r in rest:
        skipped.append({**r, "why": "ranked below --top: " + r["why"]})
    for r, n_new in zip(chosen, _allocate([r["score"] for r in chosen], cfg.budget)):
        r["n_new"] = n_new
    if not chosen:
        log.warning("no cell is surely weak; try --target ACC or a larger run (fewer --min-samples)")
    return {
        "plan_version": PLAN_VERSION,
        "source_run": source_run,
        "mode": "target" if cfg.target is not None else "overall",
        "target": cfg.target,
        "grading": cfg.mode,
        "confidence": cfg.confidence,
        "min_samples": cfg.min_samples,
        "reference": dict(sorted(overall.items())),
        "cells": chosen,
        "skipped": skipped,
        "budget": cfg.budget,
        "created": now_iso(),
        "commit": git_commit(),
    }


def weak_from_run(run_dir: str | os.PathLike, cfg: WeakConfig = WeakConfig(), out: str | os.PathLike | None = None) -> dict:
    """Load a run directory, select weak cells, and optionally write the plan atomically.

    Raises:
        DataError: not a run directory, or records without correctness fields.
    """
    run = load_run(run_dir)
    if run.n_bad_lines:
        log.warning("%s: skipped %d malformed sample line(s)", run.path, run.n_bad_lines)
    plan = select_weak(run.records, cfg, source_run=str(run.path))
    plan["model"] = run.manifest.get("model")
    if out is not None:
        atomic_write_json(out, plan)
    return plan


def plan_table(plan: dict) -> str:
    """The chosen and skipped cells as a tabulate table."""
    from tabulate import tabulate

    rows = []
    for r in plan["cells"]:
        rows.append(["yes", r["task"], r["subject"], r["level"], r["n"], f"{r['acc']:.3f}",
                     f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}", f"{r['gap']:+.3f}", r["n_new"], ""])
    for r in plan["skipped"]:
        rows.append(["", r["task"], r["subject"], r["level"], r["n"], f"{r['acc']:.3f}",
                     f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}", f"{r['gap']:+.3f}", "", r["why"]])
    return tabulate(rows, headers=["chosen", "task", "subject", "level", "n", "acc", "95% CI", "gap", "n_new", "why not"])


def load_plan(path: str | os.PathLike) -> dict:
    """Read and check a plan written by :func:`weak_from_run`.

    Raises:
        DataError: missing file, not JSON, or no ``cells`` list.
    """
    import json
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise DataError(f"Expected a plan JSON at {p} (from `harness weak RUN --out PLAN.json`), found nothing.")
    try:
        plan = json.loads(p.read_text())
    except ValueError as e:
        raise DataError(f"{p} is not valid JSON ({e}). Regenerate it with `harness weak`.") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("cells"), list):
        raise DataError(f"{p}: expected a plan object with a 'cells' list, found {type(plan).__name__}. "
                        "Regenerate it with `harness weak`.")
    for i, c in enumerate(plan["cells"]):
        missing = [k for k in ("task", "subject", "level", "n_new") if k not in c]
        if missing:
            raise DataError(f"{p}: cell {i} lacks {', '.join(missing)}. Regenerate the plan with `harness weak`.")
    return plan
