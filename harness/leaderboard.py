"""Leaderboards: one canonical record per (model, task, prompt, run), rendered as tables and plots.

Layout of a leaderboard folder (default ``leaderboards/``, or ``--leaderboard DIR``):

- ``records.jsonl``: one JSON object per (model, task, prompt, run) with every manifest field and
  the task's metrics: the same block ``results.json`` holds for the task
  (:func:`harness.reports.summarize_task` over the run's ``samples.jsonl``: strict/flexible, and
  tolerant, accuracy with 95% CI, statuses, per subject, level and subject x level, avg@k/pass@k/maj@k).
  Adding the same (model, task, prompt, config_hash) again replaces the row.
- ``scores/<config_hash>.jsonl``: per-question 0/1 scores of that run (the sidecar ``harness check``
  pairs against when the baseline is a leaderboard entry).
- ``<task>.md``, ``<task>_by_subject.md``, ``<task>_by_level.md``: rendered tables;
  ``<task>_by_subject.png`` and ``<task>_rounds.png``: plots (see :mod:`harness.plots`).

Every read-modify-write of ``records.jsonl`` holds a file lock and ends in an atomic rename, so two
processes adding at once lose nothing. A corrupt line is reported (line number) and skipped, and it
stays in the file untouched.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.errors import DataError, HarnessError
from harness.io import atomic_write_text, now_iso, write_jsonl
from harness.metrics import group, half_width
from harness.records import ALL_MODES, MODES, Sample, load_run
from harness.reports import level_order, summarize_task

log = logging.getLogger(__name__)

RECORDS = "records.jsonl"
LOCK = "records.jsonl.lock"
SCORES_DIR = "scores"
DEFAULT_DIR = "leaderboards"
LOCK_TIMEOUT_S = 120.0

Format = Literal["md", "csv", "html"]
By = Literal["subject", "level"]


def default_dir() -> Path:
    """``$HARNESS_LEADERBOARD_DIR`` or ``leaderboards`` (relative to the working directory)."""
    return Path(os.environ.get("HARNESS_LEADERBOARD_DIR") or DEFAULT_DIR)


# --------------------------------------------------------------------------- records


def record_key(r: dict) -> tuple:
    """Identity of a leaderboard row: adding a row with the same key replaces it."""
    return (r.get("model"), r.get("task"), r.get("prompt"), r.get("prompt_version"), r.get("config_hash"))


def records_from_run(run_dir: str | os.PathLike, *, label: str | None = None, round_: str | None = None) -> tuple[
    list[dict], list[dict]
]:
    """Build leaderboard rows (one per task) and the per-question score rows of a run directory.

    Raises:
        DataError: not a run directory, no samples, or a manifest without config_hash.
    """
    run = load_run(run_dir)
    m = run.manifest
    if not run.samples:
        raise DataError(f"{run.path}: samples.jsonl has no samples. Run `harness eval` into it first.")
    if not m.get("config_hash"):
        raise DataError(f"{run.path}/manifest.json lacks 'config_hash'; found keys {sorted(m)}. Re-run `harness eval`.")
    prompt = m.get("prompt") or {}
    if isinstance(prompt, str):
        prompt = {"name": prompt, "version": None}
    task_versions = m.get("tasks") or {}
    if isinstance(task_versions, list):
        task_versions = {t: None for t in task_versions}
    sampling = m.get("sampling") or {}
    families = m.get("answer_tasks") or {}
    by_task = group(run.records, "task")
    rows = []
    for task, samples in sorted(by_task.items()):
        row = {
            "model": m.get("model"),
            "backend": m.get("backend"),
            "task": task,
            "task_version": task_versions.get(task),
            "split": m.get("split"),
            "prompt": prompt.get("name"),
            "prompt_version": prompt.get("version"),
            "n_shot": m.get("n_shot"),
            "samples": sampling.get("n", 1),
            "limit": m.get("limit"),
            "commit": m.get("commit"),
            "date": m.get("date"),
            "config_hash": m.get("config_hash"),
            "run": run.path.resolve().name,
            "run_path": str(run.path),
            "label": label,
            "round": round_,
            "added": now_iso(),
            "n_bad_lines": run.n_bad_lines,
            "manifest": m,
        }
        row.update(summarize_task(samples, families.get(task, task)))
        rows.append(row)
    return rows, [score_row(s) for s in run.records]


def score_row(s: Sample) -> dict:
    """A sample's line in ``scores/<config_hash>.jsonl``: its key, cell and 0/1 verdicts per mode."""
    row: dict = {"task": s.task, "id": s.id, "sample_idx": s.sample_idx, "subject": s.subject, "level": s.level}
    row.update({m: int(s.correct(m)) for m in ALL_MODES if s.has(m)})
    return row


def sample_from_score(r: dict) -> Sample:
    """The :class:`Sample` (key, cell, verdicts) a :func:`score_row` line stands for."""
    def opt(m: str) -> bool | None:
        return None if r.get(m) is None else bool(r[m])

    return Sample(task=str(r["task"]), id=str(r["id"]), sample_idx=int(r.get("sample_idx", 0)),
                  subject=r.get("subject"), level=r.get("level"), correct_strict=bool(r.get("strict")),
                  correct_flexible=bool(r.get("flexible")), correct_tol_strict=opt("tol_strict"),
                  correct_tol_flexible=opt("tol_flexible"))


@dataclass
class Records:
    """The parsed rows of ``records.jsonl`` plus the corrupt lines that were skipped."""

    rows: list[dict] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _parse_lines(lines: list[str], path: Path) -> tuple[list[dict | None], list[tuple[int, str]]]:
    parsed: list[dict | None] = []
    bad = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            parsed.append(None)
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or "task" not in obj:
                raise ValueError("not a leaderboard record (a JSON object with 'task')")
        except ValueError as e:
            bad.append((i, f"{path}:{i}: skipped corrupt line {line[:50].strip()!r} ({e}); fix or delete it"))
            parsed.append(None)
            continue
        parsed.append(obj)
    return parsed, bad


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return path.read_text(encoding="utf-8").splitlines()


def read_records(lb_dir: str | os.PathLike | None = None) -> Records:
    """Read a leaderboard; corrupt lines are logged as warnings (with line numbers) and skipped."""
    path = Path(lb_dir or default_dir()) / RECORDS
    parsed, bad = _parse_lines(_read_lines(path), path)
    for _, msg in bad:
        log.warning(msg)
    return Records(rows=[r for r in parsed if r is not None], bad=bad)


def _lock(lb_dir: Path):
    from filelock import FileLock

    lb_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(lb_dir / LOCK), timeout=LOCK_TIMEOUT_S)


@dataclass(frozen=True)
class AddResult:
    """What ``add`` did: per task 'added' or 'replaced', plus the corrupt lines it kept and skipped."""

    actions: tuple[tuple[str, str], ...]  # (task, "added" | "replaced")
    n_records: int
    bad: tuple[tuple[int, str], ...]
    written: tuple[Path, ...]


def add_run(
    run_dir: str | os.PathLike,
    lb_dir: str | os.PathLike | None = None,
    *,
    label: str | None = None,
    round_: str | None = None,
    render: bool = True,
) -> AddResult:
    """Add (or replace) a run's rows in the leaderboard and write its per-question score sidecar.

    Args:
        run_dir: a ``harness eval`` output directory.
        lb_dir: leaderboard folder (default :func:`default_dir`).
        label: free text shown in tables (e.g. "round 2").
        round_: loop round; records with a round get an accuracy-over-rounds plot.
        render: re-render the Markdown tables and plots of the run's tasks.

    Returns:
        :class:`AddResult`.

    Raises:
        DataError: not a run directory / no samples. HarnessError: the lock was not acquired in time.
    """
    from filelock import Timeout

    lb = Path(lb_dir or default_dir())
    new_rows, scores = records_from_run(run_dir, label=label, round_=round_)
    path = lb / RECORDS
    try:
        with _lock(lb):
            write_jsonl(lb / SCORES_DIR / f"{new_rows[0]['config_hash']}.jsonl", scores)
            lines = _read_lines(path)
            parsed, bad = _parse_lines(lines, path)
            for _, msg in bad:
                log.warning(msg)
            index = {record_key(r): i for i, r in enumerate(parsed) if r is not None}
            actions = []
            for row in new_rows:
                text = json.dumps(row, ensure_ascii=False, sort_keys=True)
                i = index.get(record_key(row))
                if i is None:
                    lines.append(text)
                    actions.append((row["task"], "added"))
                else:
                    lines[i] = text
                    actions.append((row["task"], "replaced"))
            atomic_write_text(path, "".join(line + "\n" for line in lines))
            written: list[Path] = []
            if render:
                rows = [r for r in _parse_lines(lines, path)[0] if r is not None]
                for task in sorted({r["task"] for r in new_rows}):
                    written += render_task(rows, task, lb)
    except Timeout:
        raise HarnessError(
            f"Expected to lock {lb / LOCK} within {LOCK_TIMEOUT_S:.0f} s, but another process holds it. "
            "Wait for the other `harness leaderboard add` to finish, then retry."
        ) from None
    n = sum(1 for r in parsed if r is not None) + sum(1 for _, a in actions if a == "added")
    return AddResult(actions=tuple(actions), n_records=n, bad=tuple(bad), written=tuple(written))


def read_scores(lb_dir: str | os.PathLike | None, config_hash: str) -> list[Sample]:
    """Per-question scores of a leaderboard entry as :class:`Sample` s (key, cell and verdicts only).

    Raises:
        DataError: the sidecar file is missing.
    """
    from harness.io import read_jsonl

    p = Path(lb_dir or default_dir()) / SCORES_DIR / f"{config_hash}.jsonl"
    if not p.is_file():
        raise DataError(
            f"Expected per-question scores at {p} for leaderboard entry {config_hash}, found none. "
            "Re-add the run with `harness leaderboard add RUN_DIR`."
        )
    return [sample_from_score(r) for r in read_jsonl(p)]


# --------------------------------------------------------------------------- tables


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100.0 * x, 1)


def _display_model(r: dict) -> str:
    return str(r.get("model"))


def _common_columns(r: dict) -> dict:
    return {
        "n": (r.get("strict") or {}).get("n"),
        "prompt": f"{r.get('prompt')} v{r.get('prompt_version')}" if r.get("prompt_version") else r.get("prompt"),
        "n-shot": r.get("n_shot"),
        "date": str(r.get("date") or "")[:10],
        "commit": r.get("commit"),
    }


def _metric(v: dict | None, with_n: bool = False) -> tuple:
    """A metric cell: ``(acc, ci_low, ci_high)`` in percent (plus ``n`` for per-group cells)."""
    v = v or {}
    lo, hi = (v.get("ci") or [None, None])[:2]
    cell = (_pct(v.get("acc")), _pct(lo), _pct(hi))
    return (*cell, v.get("n")) if with_n else cell


def _status_columns(r: dict, sel: Sequence[dict]) -> dict:
    """Status rates of a record: no-answer, timeout and error (% of samples), unclosed think when recorded.
    Records made before these fields existed show blanks."""
    out: dict = {}
    if not any(x.get("statuses") for x in sel):
        return out
    st = (r.get("statuses") or {}).get("strict") or {}
    total = sum(st.values())
    for name, key in (("no-answer %", "no_answer"), ("timeout %", "timeout"), ("error %", "error")):
        out[name] = round(100.0 * st.get(key, 0) / total, 1) if total else None
    if any(x.get("unclosed_think_rate") is not None for x in sel):
        out["unclosed think %"] = _pct(r.get("unclosed_think_rate"))
    return out


def _sorted_rows(rows: Sequence[dict], task: str | None, mode: str) -> list[dict]:
    import pandas as pd

    sel = [r for r in rows if task is None or r.get("task") == task]
    if not sel:
        return []
    df = pd.DataFrame(
        {"i": range(len(sel)), "task": [r.get("task") for r in sel],
         "acc": [(r.get(mode) or {}).get("acc") for r in sel]}
    )
    df = df.sort_values(["task", "acc", "i"], ascending=[True, False, True], na_position="last")
    return [sel[i] for i in df["i"]]


def leaderboard_frame(rows: Sequence[dict], task: str | None = None, by: By | None = None, mode: str = "strict"):
    """A pandas DataFrame of the leaderboard, best first within each task.

    Metric cells are ``(acc, ci_low, ci_high)`` tuples in percent; :func:`format_frame` renders them.
    Overall tables show strict and flexible (and the tolerant modes where a record has them; "avg@k"
    in the header when a record has several samples per problem, then its k, pass@k and maj@k), and
    the status rates.

    Args:
        rows: leaderboard records.
        task: keep only this task.
        by: None (overall), "subject" or "level" (one column per group, ``mode``).
        mode: metric for ranking and the per-group columns.
    """
    import pandas as pd

    out = []
    srt = _sorted_rows(rows, task, mode)
    groups: list[str] = []
    if by:
        groups = sorted({g for r in srt for g in (r.get(f"by_{by}") or {})},
                        key=lambda g: level_order(str(g)))
    multi = any(r.get("sampling") for r in srt)
    avg = " avg@k" if multi else ""
    modes = [mode] if by else [m for m in ALL_MODES if m in MODES or any(r.get(m) for r in srt)]
    rank: dict[str, int] = {}
    for r in srt:
        rank[r["task"]] = rank.get(r["task"], 0) + 1
        row: dict = {"#": rank[r["task"]], "task": r.get("task"), "model": _display_model(r)}
        if any(x.get("label") for x in srt):
            row["label"] = r.get("label") or ""
        if any(x.get("round") is not None for x in srt):
            row["round"] = "" if r.get("round") is None else r.get("round")
        for m in modes:
            row[(f"overall ({m}){avg}" if by else f"{m.replace('_', ' ')}{avg}")] = _metric(r.get(m))
        for g in groups:
            row[f"Level {g}" if by == "level" else g] = _metric(((r.get(f"by_{by}") or {}).get(g) or {}).get(mode),
                                                                with_n=True)
        if multi and not by:
            sm = (r.get("sampling") or {}).get(mode)
            row["k"] = sm["k"] if sm else r.get("samples")
            row[f"pass@k {mode}"] = _metric(sm["pass@k"][str(sm["k"])]) if sm else None
            row[f"maj@k {mode}"] = _metric(sm["maj@k"]) if sm else None
        row.update(_common_columns(r))
        if not by:
            row.update(_status_columns(r, srt))
        out.append(row)
    df = pd.DataFrame(out)
    if task is not None and not df.empty:
        df = df.drop(columns=["task"])
    return df


def _is_metric(v) -> bool:
    return isinstance(v, tuple)


def format_frame(df, fmt: Format = "md", *, title: str | None = None) -> str:
    """Render a :func:`leaderboard_frame` as Markdown (tabulate), CSV or HTML (pandas).

    Overall metrics get a separate ``... 95% CI`` column (``[low, high] ±half``: the half-width says how
    large a change is noise); per-group metrics show ``acc ±half (n=...)`` (md/html).
    CSV keeps numbers: ``<col>``, ``<col> ci_low``, ``<col> ci_high`` (and ``<col> n`` for groups).
    """
    import pandas as pd

    if df.empty:
        return "(no leaderboard entries)\n" if fmt == "md" else ("" if fmt == "csv" else "<p>no entries</p>\n")
    cols: dict[str, list] = {}
    for c in df.columns:
        vals = list(df[c])
        if not any(_is_metric(v) for v in vals):
            cols[c] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in vals]
            continue
        grouped = any(_is_metric(v) and len(v) == 4 for v in vals)
        if fmt == "csv":
            cols[c] = [v[0] if _is_metric(v) else None for v in vals]
            cols[f"{c} ci_low"] = [v[1] if _is_metric(v) else None for v in vals]
            cols[f"{c} ci_high"] = [v[2] if _is_metric(v) else None for v in vals]
            if grouped:
                cols[f"{c} n"] = [v[3] if _is_metric(v) else None for v in vals]
        elif grouped:
            cols[c] = [_inline(v) for v in vals]
        else:
            cols[c] = [f"{v[0]:.1f}" if _is_metric(v) and v[0] is not None else "" for v in vals]
            cols[f"{c} 95% CI"] = [
                f"[{v[1]:.1f}, {v[2]:.1f}] ±{half_width(v[0], v[1], v[2]):.1f}"
                if _is_metric(v) and v[1] is not None else "" for v in vals
            ]
    out = pd.DataFrame(cols)
    if fmt == "csv":
        return out.to_csv(index=False)
    if fmt == "html":
        return out.to_html(index=False, escape=True)
    from tabulate import tabulate

    text = tabulate(out.values.tolist(), headers=list(out.columns), tablefmt="github", disable_numparse=True)
    return (f"### {title}\n\n" if title else "") + text + "\n"


def _inline(v) -> str:
    if not _is_metric(v) or v[0] is None:
        return ""
    half = half_width(v[0], v[1], v[2]) if v[1] is not None else float("nan")
    return f"{v[0]:.1f} ±{half:.1f} (n={v[3]})"


def show(
    lb_dir: str | os.PathLike | None = None,
    *,
    task: str | None = None,
    by: By | None = None,
    fmt: Format = "md",
    mode: str = "strict",
) -> tuple[str, Records]:
    """Render the leaderboard (all tasks, or one) as text; returns ``(text, records)``."""
    recs = read_records(lb_dir)
    tasks = sorted({r["task"] for r in recs.rows})
    if task is not None and task not in tasks:
        from harness.errors import did_you_mean

        raise DataError(did_you_mean(task, tasks, "leaderboard task") if tasks else
                        f"The leaderboard at {Path(lb_dir or default_dir())} has no entries; "
                        "add one with `harness leaderboard add RUN_DIR`.")
    if fmt == "md" and task is None:
        parts = [format_frame(leaderboard_frame(recs.rows, t, by, mode), "md", title=t) for t in tasks]
        text = "\n".join(parts) if parts else format_frame(leaderboard_frame([], None), "md")
    else:
        text = format_frame(leaderboard_frame(recs.rows, task, by, mode), fmt)
    return text, recs


def render_task(rows: Sequence[dict], task: str, lb_dir: str | os.PathLike) -> list[Path]:
    """Write ``<task>.md``, ``<task>_by_subject.md``, ``<task>_by_level.md`` and the plots of a task."""
    from harness import plots

    lb = Path(lb_dir)
    written = []
    flag = f" --leaderboard {lb}" if lb != Path(DEFAULT_DIR) else ""
    views: tuple[tuple[By | None, str, str], ...] = (
        (None, "", "overall"), ("subject", "_by_subject", "by subject"), ("level", "_by_level", "by level"))
    for by, suffix, what in views:
        sel = [r for r in rows if r.get("task") == task]
        if by and not any(r.get(f"by_{by}") for r in sel):
            continue
        by_flag = f" --by {by}" if by else ""
        head = (
            f"<!-- Generated by `harness leaderboard add`; regenerate with: "
            f"harness leaderboard show --task {task}{by_flag} --format md{flag} -->\n"
            f"# {task}: {what} (accuracy %, 95% CI; {'strict' if by else 'strict and flexible'} grading)\n\n"
        )
        p = lb / f"{task}{suffix}.md"
        atomic_write_text(p, head + format_frame(leaderboard_frame(rows, task, by), "md"))
        written.append(p)
    written += plots.render_plots(rows, task, lb)
    return written
