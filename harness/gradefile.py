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

Both extraction modes are always computed; ``mode`` only picks the headline. With a judge
(:func:`judge_report`), rows the rules could not decide get the judge's verdict, reported as a separate
``judged`` accuracy; a row that already carries a verdict of the same judge model and prompt version
(a ``--output`` file fed back as ``--input``) is not asked again.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from harness import metrics
from harness.data import task_help
from harness.errors import BackendError, DataError
from harness.io import decode_line
from harness.metrics import Accuracy
from harness.options import check
from harness.records import JUDGED, Sample

if TYPE_CHECKING:
    from harness.judge import JudgeConfig

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
        "help": f"task whose answer rules (and gold answers, for id rows) apply: {task_help()}",
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
    question: str | None = None  # the problem text, when the row or the task gives it (shown to a judge)
    output: str = ""  # the output graded
    judge: dict | None = None  # the judge's sample fields (harness.judge.SAMPLE_FIELDS), when it judged the row

    def correct(self, mode: str) -> bool:
        """The verdict in ``mode`` (strict, flexible, or judged: the judge's where it judged, else strict)."""
        if mode == "judged":
            return self.judge["judge_verdict"] == "correct" if self.judge else bool(self.grades["strict"].correct)
        return bool(self.grades[mode].correct)


@dataclass
class GradeReport:
    """All graded rows of one file, plus what was skipped."""

    path: str
    task: str
    rows: list[GradedRow] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    n_duplicates: int = 0
    judge: dict | None = None  # the judge that ran (JudgeConfig.describe()), plus this pass's totals
    judge_error: str | None = None  # the judge server failed; rows judged before stay judged

    def counts(self, mode: str) -> Counter:
        return Counter(r.grades[mode].status for r in self.rows)

    def n_correct(self, mode: str) -> int:
        return sum(1 for r in self.rows if r.correct(mode))

    def samples(self) -> list[Sample]:
        """Each graded row as a :class:`harness.records.Sample`, the record every metric reads (one
        problem per row: the file's rows are graded independently, keyed by their file line)."""
        return [Sample(task=self.task, id=str(r.lineno), subject=r.subject, level=r.level,
                       gold=list(r.gold) if isinstance(r.gold, tuple) else r.gold,
                       extracted_strict=r.grades["strict"].extracted,
                       extracted_flexible=r.grades["flexible"].extracted,
                       correct_strict=bool(r.grades["strict"].correct),
                       correct_flexible=bool(r.grades["flexible"].correct),
                       status_strict=r.grades["strict"].status, status_flexible=r.grades["flexible"].status,
                       **(r.judge or {}))
                for r in self.rows]


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
        progress: show a progress bar on a terminal.

    Returns:
        A :class:`GradeReport`.

    Raises:
        DataError: the file is missing or empty, or a line is malformed (with file:line and the fix)
            and ``skip_bad`` is False; an id is not in the task.
    """
    from harness.answers import grade
    from harness.data import get_task
    from harness.progress import bar as progress_bar

    spec = get_task(task)
    rules = spec.rules.exact()  # the task's own rules; exact, as eval's headline columns
    family = rules.family
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Expected a JSONL file at {p}, but it does not exist. Check --input.")
    report = GradeReport(path=str(p), task=task)
    golds = _GoldIndex(task, data_dir)
    seen_docs: set[Any] = set()
    with p.open("rb") as f:
        lines = list(enumerate(f, 1))
    for lineno, raw in progress_bar(iterable=lines, desc=f"grading {p.name}", unit="row", disable=None if progress else True):
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
        grades = {m: grade(output, gold, rules, m) for m in MODES}
        report.rows.append(GradedRow(lineno, row, fmt, gold, subject, level, grades, _question(row, fmt, golds),
                                     output))
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


def _question(row: dict, fmt: str, golds: _GoldIndex) -> str | None:
    """The problem text: the row's ``question``/``problem`` (lm-eval: its ``doc``'s), else the task's problem
    for id rows; None when neither gives it."""
    doc = row.get("doc")
    src: dict = doc if fmt == "lm-eval" and isinstance(doc, dict) else row
    for k in ("question", "problem"):
        if isinstance(src.get(k), str) and src[k].strip():
            return src[k]
    if fmt == "output+id":
        prob = golds.get(str(row.get("id", row.get("unique_id"))))
        return prob.question if prob is not None else None
    return None


def judge_report(report: GradeReport, cfg: JudgeConfig) -> None:
    """Send the rows the rules could not decide (:func:`harness.judge.rules_undecided` on the strict
    grade) to the judge; set each judged row's ``judge`` fields, and ``report.judge``. Rows that carry a
    verdict of this judge model and prompt version already keep it without a request. When the judge
    server fails, ``report.judge_error`` says so and the rows judged before keep their verdicts.
    """
    from dataclasses import replace

    from harness.data import answer_rules
    from harness.judge import (
        SAMPLE_FIELDS,
        JudgeItem,
        JudgeResult,
        answer_span,
        judge_items,
        rules_undecided,
        same_judge,
    )

    family = answer_rules(report.task).family
    items = []
    for i, r in enumerate(report.rows):
        g = r.grades["strict"]
        reason = rules_undecided(r.output, r.gold, g.extracted, g.status, family)
        if reason is None:
            continue
        if same_judge(r.row, cfg):
            report.rows[i] = replace(r, judge={k: r.row.get(k) for k in SAMPLE_FIELDS})
            continue
        span, what = answer_span(r.output, g.extracted, cfg.judge_answer_chars)
        items.append(JudgeItem(i, r.question, r.gold, span, what, reason))

    def record(item: JudgeItem, res: JudgeResult) -> None:
        i = int(item.key)  # type: ignore[call-overload]
        report.rows[i] = replace(report.rows[i], judge=res.fields(cfg))

    report.judge = {**cfg.describe(), "pass": None}
    try:
        report.judge["pass"] = judge_items(items, cfg, record).to_dict()
    except BackendError as e:
        report.judge_error = str(e)


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
    from harness.data import get_task, problem_from_row

    if get_task(task).eval_only:  # our harness_<task> rows, or lm-eval's aime24/aime25 rows: the task's own gold
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


def _acc_cell(a: Accuracy) -> str:
    if a.acc is None or a.ci[0] is None or a.ci[1] is None:
        return "-"
    return f"{100 * a.acc:.1f} [{100 * a.ci[0]:.1f}, {100 * a.ci[1]:.1f}]"


def summarize(report: GradeReport, mode: str = "strict") -> str:
    """Human-readable summary: headline in ``mode``, then tables (accuracy %, 95% CI). Every figure comes
    from :mod:`harness.metrics` over :meth:`GradeReport.samples`, as for an eval run.

    Returns:
        The text to print.
    """
    from tabulate import tabulate

    samples = report.samples()
    acc = {m: metrics.accuracy(samples, m) for m in MODES}
    a = acc[mode]
    fmts = Counter(r.fmt for r in report.rows)
    ci = f"{100 * (a.ci[0] or 0):.1f}-{100 * (a.ci[1] or 0):.1f}"
    lines = [
        (f"{report.task}: accuracy ({mode}) {100 * (a.acc or 0):.1f}% (95% CI {ci}), "
         f"{a.correct}/{a.n} outputs from {report.path} "
         f"({', '.join(f'{v} {f}' for f, v in fmts.items())})")
    ]
    if report.bad_lines:
        lines.append(f"skipped {len(report.bad_lines)} bad line(s): " + ", ".join(str(ln) for ln, _ in report.bad_lines[:10]))
    if report.n_duplicates:
        lines.append(f"ignored {report.n_duplicates} repeated lm-eval rows (same doc_id, another filter)")
    shown = (*MODES, JUDGED) if report.judge else MODES  # judged: its own column, never mixed into the others
    head = ["", "n"] + [f"{m} acc % [95% CI]" for m in shown]
    table = [["all", a.n] + [_acc_cell(metrics.accuracy(samples, m)) for m in shown]]
    lines += ["", tabulate(table, headers=head)]
    if report.judge:
        lines.append(_judge_line(report))
    from harness.answers import STATUSES

    counts = {m: metrics.status_counts(samples, m) for m in MODES}
    status_rows = [[s] + [counts[m].get(s, 0) for m in MODES] for s in STATUSES]
    lines += ["", tabulate(status_rows, headers=["status"] + list(MODES))]
    for key in ("subject", "level"):
        by = {m: metrics.accuracy_by(samples, key, m) for m in MODES}
        t = [[v, by["strict"][v].n] + [_acc_cell(by[m][v]) for m in MODES] for v in by["strict"]]
        if t:
            lines += ["", tabulate(t, headers=[key, "n"] + [f"{m} acc %" for m in MODES])]
    return "\n".join(lines)


def _judge_line(report: GradeReport) -> str:
    from harness.metrics import judge_counts
    from harness.records import Sample

    j = judge_counts([Sample(task=report.task, id=str(r.lineno), **r.judge) for r in report.rows if r.judge])
    judge = report.judge or {}
    v, p = j["verdicts"], judge.get("pass") or {}
    line = (f"judge {judge.get('model')} ({judge.get('prompt_version')}): {j['samples']} row(s) the rules "
            f"could not decide -> {v['correct']} correct, {v['incorrect']} incorrect, {v['undecided']} undecided; "
            f"this run asked {p.get('requests', 0)} requests ({p.get('prompt_tokens', 0)} prompt + "
            f"{p.get('tokens', 0)} completion tokens) for {p.get('samples', 0)} row(s)")
    if report.judge_error:
        line += f"\njudge failed: {report.judge_error}"
    return line


def graded_rows(report: GradeReport) -> list[dict]:
    """Every input row plus ``extracted_<mode>``, ``status_<mode>``, ``correct_<mode>`` (and ``gold_used``);
    after a judge pass also the judge's fields (:data:`harness.judge.SAMPLE_FIELDS`) on the rows it judged
    (and none on the others)."""
    from harness.judge import SAMPLE_FIELDS

    out = []
    for r in report.rows:
        d = dict(r.row)
        if report.judge:
            for k in SAMPLE_FIELDS:
                d.pop(k, None)
            d.update(r.judge or {})
        d["gold_used"] = list(r.gold) if isinstance(r.gold, tuple) else r.gold
        for m in MODES:
            g = r.grades[m]
            d[f"extracted_{m}"] = g.extracted
            d[f"status_{m}"] = g.status
            d[f"correct_{m}"] = g.correct
        out.append(d)
    return out
