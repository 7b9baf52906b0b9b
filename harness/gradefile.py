"""Regrade model outputs stored in a JSONL file (``harness grade``).

Three row formats, detected per row:

- ours with a gold: ``{"output": ..., "gold": ...}`` (gold: a string, a number, or a list of
  accepted alternatives);
- ours with an id: ``{"output": ..., "id": ...}`` (or MATH ``unique_id``), joined to the task's
  gold answers through :func:`harness.data.load_task`;
- lm-evaluation-harness ``--log_samples`` rows (``samples_<task>_<date>.jsonl``): ``doc``,
  ``resps`` (``[[text]]``), ``filtered_resps``, ``doc_id``, ``filter``. The raw response
  ``resps[0][0]`` is regraded; the gold comes from ``doc`` (GSM8K: the ``#### N`` line of
  ``answer``; MATH: the last box of ``solution``, else ``answer``; the competition and robustness
  tasks, aime24 ... svamp: the task's own gold, parsed from ``doc`` by :mod:`harness.data`, which reads
  our ``harness_<task>`` rows and lm-eval's own aime24/aime25 rows). lm-eval writes one row per
  doc and filter (``strict-match``, ``flexible-extract``); repeats of a ``doc_id`` are graded once.

Both extraction modes are always computed; ``mode`` only picks the headline.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from harness.errors import DataError
from harness.io import decode_line
from harness.options import check

log = logging.getLogger(__name__)

MODES = ("strict", "flexible")
FORMATS = ("output+gold", "output+id", "lm-eval")
_FIX = "Or pass --skip-bad to skip and count bad lines."


@dataclass(frozen=True)
class GradeConfig:
    """Everything ``harness grade`` takes (its flags are generated from these fields by
    :func:`harness.options.click_options`; the ``help`` metadata is the one documentation)."""

    WHAT: ClassVar[str] = "grade config"

    input: str = field(default="", metadata={
        "help": "JSONL of {output, gold} or {output, id} rows, or an lm-eval --log_samples file", "required": True})
    task: str = field(default="", metadata={
        "help": "task whose answer rules (and gold answers, for id rows) apply: math, math500, gsm8k, ...",
        "required": True})
    mode: Literal["strict", "flexible"] = field(default="strict", metadata={
        "help": "which verdict is the headline (both are always computed and shown)"})
    output: str | None = field(default=None, metadata={
        "help": "write every input row plus extracted_/status_/correct_{strict,flexible} as JSONL"})
    skip_bad: bool = field(default=False, metadata={
        "help": "skip malformed lines (counted) instead of stopping at the first"})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data folder"})

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class GradedRow:
    """One input row with both verdicts."""

    lineno: int
    row: dict
    fmt: str
    gold: str | tuple[str, ...]
    subject: str | None
    level: int | None
    grades: dict  # mode -> harness.answers.Grade


@dataclass
class GradeReport:
    """All graded rows of one file, plus what was skipped."""

    path: str
    task: str
    rows: list[GradedRow] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    n_duplicates: int = 0

    def counts(self, mode: str) -> Counter:
        return Counter(r.grades[mode].status for r in self.rows)

    def n_correct(self, mode: str) -> int:
        return sum(1 for r in self.rows if r.grades[mode].correct)


def grade_file(
    path: str | os.PathLike,
    task: str,
    *,
    data_dir: str | os.PathLike | None = None,
    skip_bad: bool = False,
    progress: bool = True,
) -> GradeReport:
    """Grade every row of a JSONL file in both modes.

    Args:
        path: the JSONL file (our rows or lm-eval ``--log_samples`` rows).
        task: a registered task (``math``, ``math500``, ``gsm8k``, or custom); picks the
            extraction rules and, for id rows, the gold answers.
        data_dir: benchmark data folder for id joins (default ``$HARNESS_DATA_DIR``).
        skip_bad: skip malformed lines (counted in ``bad_lines``) instead of raising.
        progress: show a tqdm bar on a terminal.

    Returns:
        A :class:`GradeReport`.

    Raises:
        DataError: the file is missing or empty, or a line is malformed (with file:line and the fix)
            and ``skip_bad`` is False; an id is not in the task.
    """
    from tqdm import tqdm

    from harness.answers import grade
    from harness.data import get_task

    spec = get_task(task)
    family = spec.answer_task
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Expected a JSONL file at {p}, but it does not exist. Check --input.")
    report = GradeReport(path=str(p), task=task)
    golds = _GoldIndex(task, data_dir)
    seen_docs: set[Any] = set()
    with p.open("rb") as f:
        lines = list(enumerate(f, 1))
    for lineno, raw in tqdm(lines, desc=f"grading {p.name}", unit="row", disable=None if progress else True):
        if not raw.strip():
            continue
        try:
            parsed = _parse_line(decode_line(raw, lineno, p), lineno, p, family, golds)
        except DataError as e:
            if not skip_bad:
                raise DataError(f"{e} {_FIX}") from None
            report.bad_lines.append((lineno, str(e)))
            log.debug("skipped %s", e)
            continue
        row, fmt, output, gold, subject, level = parsed
        if fmt == "lm-eval":
            key = row.get("doc_id")
            if key in seen_docs:
                report.n_duplicates += 1
                continue
            seen_docs.add(key)
        grades = {m: grade(output, gold, family, m) for m in MODES}
        report.rows.append(GradedRow(lineno, row, fmt, gold, subject, level, grades))
    if not report.rows:
        raise DataError(f"{p}: no gradable rows (empty file, or every line was bad). Check --input.")
    return report


class _GoldIndex:
    """Lazy id -> Problem index over a task's splits."""

    def __init__(self, task: str, data_dir: str | os.PathLike | None) -> None:
        self.task, self.data_dir = task, data_dir
        self._by_split: dict[str, dict[str, Any]] = {}

    def get(self, pid: str):
        from harness.data import get_task, load_task

        splits = list(get_task(self.task).splits)
        first = pid.split("/", 1)[0]
        order = [first] + [s for s in splits if s != first] if first in splits else splits
        for split in order:
            if split not in self._by_split:
                self._by_split[split] = {pr.id: pr for pr in load_task(self.task, split, data_dir_=self.data_dir)}
            if pid in self._by_split[split]:
                return self._by_split[split][pid]
        return None


def _parse_line(line: str, lineno: int, p: Path, family: str, golds: _GoldIndex):
    where = f"{p}:{lineno}"
    try:
        row = json.loads(line)
    except ValueError as e:
        raise DataError(f"{where}: expected one JSON object per line, found {line[:60].strip()!r} ({e}).") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, found a JSON {type(row).__name__}.")
    if "resps" in row and "doc" in row:
        return (row, "lm-eval", *_lm_eval_row(row, where, family, golds.task))
    if "output" not in row or not isinstance(row["output"], str):
        raise DataError(
            f"{where}: expected a string field 'output' (with 'gold' or 'id'), or an lm-eval log_samples row "
            f"('doc', 'resps'); found fields {', '.join(sorted(row)) or '(none)'}."
        )
    subject, level = row.get("subject"), _level(row.get("level"))
    if "gold" in row and row["gold"] is not None:
        return (row, "output+gold", row["output"], _gold(row["gold"], where), subject, level)
    pid = row.get("id", row.get("unique_id"))
    if pid is None:
        raise DataError(f"{where}: expected a 'gold' or an 'id' field next to 'output'; found neither.")
    prob = golds.get(str(pid))
    if prob is None:
        raise DataError(
            f"{where}: id {pid!r} is not a problem of task {golds.task!r}. Check --task, or give 'gold' instead."
        )
    return (row, "output+id", row["output"], prob.answer, subject or prob.subject, level or prob.level)


def _lm_eval_row(row: dict, where: str, family: str, task: str):
    resps, doc = row["resps"], row["doc"]
    try:
        output = resps[0][0]
    except (IndexError, KeyError, TypeError):
        output = None
    if not isinstance(output, str):
        raise DataError(f"{where}: expected lm-eval 'resps' as [[text]], found {str(resps)[:60]!r}.")
    if not isinstance(doc, dict):
        raise DataError(f"{where}: expected lm-eval 'doc' to be an object, found {type(doc).__name__}.")
    from harness.data import EVAL_ONLY_TASKS, problem_from_row

    if task in EVAL_ONLY_TASKS:  # our harness_<task> rows, or lm-eval's aime24/aime25 rows: the task's own gold
        try:
            p = problem_from_row(task, doc)
            return output, p.answer, p.subject, p.level
        except DataError as e:
            raise DataError(f"{where}: lm-eval doc is not a row of task {task} ({e}). Check --task.") from None
    gold: str | None = None
    if family == "gsm8k":
        ans = doc.get("answer")
        if isinstance(ans, str) and "####" in ans:
            from harness.data import gsm8k_final_answer

            gold = gsm8k_final_answer(ans)
        elif isinstance(row.get("target"), str) and "####" in row["target"]:
            from harness.data import gsm8k_final_answer

            gold = gsm8k_final_answer(row["target"])
    else:
        from harness.answers.extract import extract

        sol = doc.get("solution")
        if isinstance(sol, str):
            gold = extract(sol, "math", "strict")  # the raw last box; lm-eval minerva's "answer" is normalized
        if gold is None and isinstance(doc.get("answer"), str) and doc["answer"].strip():
            gold = doc["answer"].strip()
    if gold is None:
        raise DataError(
            f"{where}: lm-eval row has no gold for a {family} task: expected doc['answer'] with '#### N' (gsm8k) "
            f"or doc['solution'] with a \\boxed answer (math); found doc fields {', '.join(sorted(doc))}. "
            "Check --task."
        )
    subject = doc.get("subject") or doc.get("type")
    return output, gold, subject, _level(doc.get("level"))


def _gold(g: Any, where: str) -> str | tuple[str, ...]:
    if isinstance(g, bool):
        raise DataError(f"{where}: expected 'gold' as a string, number or list of strings, found {g!r}.")
    if isinstance(g, (str, int, float)):
        s = str(g).strip()
        if s:
            return s
    elif isinstance(g, list) and g and all(isinstance(x, (str, int, float)) for x in g):
        return tuple(str(x) for x in g)
    raise DataError(f"{where}: expected 'gold' as a non-empty string, number or list of strings, found {g!r}.")


def _level(v: Any) -> int | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        m = re.search(r"\d+", v)  # "Level 3"
        return int(m.group()) if m else None
    return None


# --- reporting ----------------------------------------------------------------------------------


def _acc_cell(k: int, n: int) -> str:
    from harness.stats import wilson_interval

    if n == 0:
        return "-"
    lo, hi = wilson_interval(k, n)
    return f"{100 * k / n:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def _group_table(rows: Sequence[GradedRow], key: str) -> list[list]:
    groups: dict[Any, list[GradedRow]] = {}
    for r in rows:
        v = getattr(r, key)
        if v is not None:
            groups.setdefault(v, []).append(r)
    out = []
    for v in sorted(groups, key=str):
        g = groups[v]
        out.append([v, len(g)] + [_acc_cell(sum(x.grades[m].correct for x in g), len(g)) for m in MODES])
    return out


def summarize(report: GradeReport, mode: str = "strict") -> str:
    """Human-readable summary: headline in ``mode``, then tables (accuracy %, Wilson 95% CI).

    Returns:
        The text to print.
    """
    from tabulate import tabulate

    n = len(report.rows)
    k = report.n_correct(mode)
    fmts = Counter(r.fmt for r in report.rows)
    from harness.stats import wilson_interval

    lo, hi = wilson_interval(k, n)
    lines = [
        (f"{report.task}: accuracy ({mode}) {100 * k / max(n, 1):.1f}% (95% CI {100 * lo:.1f}-{100 * hi:.1f}), "
        f"{k}/{n} outputs from {report.path} "
        f"({', '.join(f'{v} {f}' for f, v in fmts.items())})")
    ]
    if report.bad_lines:
        lines.append(f"skipped {len(report.bad_lines)} bad line(s): " + ", ".join(str(ln) for ln, _ in report.bad_lines[:10]))
    if report.n_duplicates:
        lines.append(f"ignored {report.n_duplicates} repeated lm-eval rows (same doc_id, another filter)")
    head = ["", "n"] + [f"{m} acc % [95% CI]" for m in MODES]
    table = [["all", n] + [_acc_cell(report.n_correct(m), n) for m in MODES]]
    lines += ["", tabulate(table, headers=head)]
    from harness.answers import STATUSES

    status_rows = [[s] + [report.counts(m).get(s, 0) for m in MODES] for s in STATUSES]
    lines += ["", tabulate(status_rows, headers=["status"] + list(MODES))]
    for key in ("subject", "level"):
        t = _group_table(report.rows, key)
        if t:
            lines += ["", tabulate(t, headers=[key, "n"] + [f"{m} acc %" for m in MODES])]
    return "\n".join(lines)


def graded_rows(report: GradeReport) -> list[dict]:
    """Every input row plus ``extracted_<mode>``, ``status_<mode>``, ``correct_<mode>`` (and ``gold_used``)."""
    out = []
    for r in report.rows:
        d = dict(r.row)
        d["gold_used"] = list(r.gold) if isinstance(r.gold, tuple) else r.gold
        for m in MODES:
            g = r.grades[m]
            d[f"extracted_{m}"] = g.extracted
            d[f"status_{m}"] = g.status
            d[f"correct_{m}"] = g.correct
        out.append(d)
    return out
