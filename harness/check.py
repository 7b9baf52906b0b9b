"""``harness check``: a CI accuracy gate decided by paired statistics, not luck.

The baseline is a run directory or a leaderboard entry (``model@task``, a label, or a
``config_hash`` prefix; entries are paired through their ``leaderboards/scores/<config_hash>.jsonl``
sidecar). The candidate is a run directory. Both are paired problem by problem on
``(task, id, sample_idx)``; per task we report the accuracy of each, the paired difference with its
CI (SE from per-question differences, Miller arXiv:2411.00640), the exact McNemar p-value on the
discordant pairs, the same per subject (or level, or subject x level cell: ``by``), and the power of the
comparison. Every figure comes from :func:`harness.metrics.paired`; with several samples per problem
the unit is the problem (per-problem means; the p-value is the exact sign test on problems that differ).

Exit codes: 0 pass; 1 a statistically significant drop larger than ``max_drop`` points (p < alpha and
the CI below 0), or candidate accuracy under ``min_accuracy``; 2 unusable input
(:class:`~harness.errors.UnusableInputError`, one line).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from harness import metrics
from harness.errors import ConfigError, DataError, UnusableInputError
from harness.options import check as check_config
from harness.records import Mode, Sample
from harness.stats import PairedDiff, minimum_detectable_difference, required_sample_size

log = logging.getLogger(__name__)

By = Literal["subject", "level", "cell"]
#: ``--by`` -> the :mod:`harness.metrics` grouping key and how a group is labelled in the table.
GROUPINGS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "subject": ("subject", str),
    "level": ("level", lambda g: f"Level {g}"),
    "cell": ("cell", lambda g: f"{g[1]}" + ("" if g[2] is None else f" L{g[2]}")),
}
#: Flip rate assumed for the power statement when the two runs never disagree.
ASSUMED_FLIP_RATE = 0.10


@dataclass(frozen=True)
class CheckConfig:
    """Everything ``harness check`` takes (its flags are generated from these fields by
    :func:`harness.options.click_options`; the ``help`` metadata is the one documentation)."""

    WHAT: ClassVar[str] = "check config"

    baseline: str = field(default="", metadata={
        "help": "a run directory, or a leaderboard entry: MODEL@TASK (model, its last path part, or label) "
                "or a config_hash prefix", "required": True})
    candidate: str = field(default="", metadata={"help": "the run directory to judge", "required": True})
    task: str | None = field(default=None, metadata={"help": "compare only this task (default: the baseline's tasks)"})
    mode: Mode = field(default="strict", metadata={
        "help": "grading mode (tol_*: the task's numeric tolerance, where it has one)"})
    by: By = field(default="subject", metadata={
        "help": "per-group rows of the report (cell: subject x level); the verdict uses each whole task"})
    max_drop: float = field(default=0.0, metadata={
        "help": "tolerated drop in accuracy points; a significant drop must exceed it to fail", "min": 0})
    alpha: float = field(default=0.05, metadata={"help": "significance level (CI is 1-alpha)", "gt": 0, "lt": 1})
    min_accuracy: float | None = field(default=None, metadata={
        "help": "fail when the candidate's accuracy is below this fraction in [0, 1] (0.45 = 45%)",
        "min": 0, "max": 1})
    lb_dir: str | None = field(default=None, metadata={"help": "leaderboard folder for entry baselines"})

    def __post_init__(self) -> None:
        check_config(self)


def check_options(values: dict[str, Any], *, where: str = "") -> CheckConfig:
    """A :class:`CheckConfig` from a mapping (flags), every problem at once.

    Raises:
        UnusableInputError: bad options: the gate cannot judge (exit 2, never the verdict's 1).
    """
    from harness.options import from_mapping

    try:
        return from_mapping(CheckConfig, values, where=where)
    except ConfigError as e:
        raise UnusableInputError(str(e)) from None


@dataclass
class Side:
    """One side of a comparison: where it came from, its samples and what produced them."""

    name: str
    samples: list[Sample]
    task_versions: dict[str, object]
    prompt: tuple[object, object]  # (name, version)
    n_shot: object = None
    tasks: list[str] | None = None  # tasks a leaderboard entry stands for (None: all in samples)
    n_bad_lines: int = 0


def side_from_run(path: str | os.PathLike, what: str) -> Side:
    """Load a run directory as a :class:`Side`.

    Raises:
        UnusableInputError: not a run directory, or no samples.
    """
    from harness.records import load_run

    try:
        run = load_run(path)
    except DataError as e:
        raise UnusableInputError(f"{what}: {e}") from None
    if not run.samples:
        raise UnusableInputError(f"{what}: {run.path}/samples.jsonl has no samples; run `harness eval` into it first.")
    m = run.manifest
    prompt = m.get("prompt") or {}
    if isinstance(prompt, str):
        prompt = {"name": prompt}
    tv = m.get("tasks") or {}
    if isinstance(tv, list):
        tv = {t: None for t in tv}
    return Side(name=str(run.path), samples=run.records, task_versions=dict(tv),
                prompt=(prompt.get("name"), prompt.get("version")), n_shot=m.get("n_shot"),
                n_bad_lines=run.n_bad_lines)


def _entry_desc(r: dict) -> str:
    return f"{r.get('model')}@{r.get('task')} [{str(r.get('config_hash'))[:8]}]"


def resolve_entry(ref: str, rows: Sequence[dict], task: str | None = None) -> list[dict]:
    """Leaderboard rows a REF names: ``model@task`` (model string, its last path part, or label), or a
    config_hash prefix (all its tasks, or ``task``). Several runs of one model: the latest.

    Raises:
        UnusableInputError: nothing matches, or a hash prefix is ambiguous.
    """
    if "@" in ref:
        model, _, t = ref.rpartition("@")
        hits = [
            r for r in rows
            if r.get("task") == t and model in (str(r.get("model")), Path(str(r.get("model"))).name, r.get("label"))
        ]
        if not hits:
            avail = sorted({f"{r.get('model')}@{r.get('task')}" for r in rows})
            raise UnusableInputError(
                f"baseline {ref!r}: no leaderboard entry with that model (or label) and task; "
                f"available: {', '.join(avail) or 'none'}."
            )
        return [max(hits, key=lambda r: (str(r.get("date") or ""), str(r.get("added") or "")))]
    hits = [r for r in rows if str(r.get("config_hash", "")).startswith(ref)] if len(ref) >= 4 else []
    hashes = sorted({r["config_hash"] for r in hits})
    if len(hashes) > 1:
        raise UnusableInputError(f"baseline {ref!r} matches {len(hashes)} config hashes ({', '.join(hashes)}); "
                                 "give more characters.")
    if task is not None:
        hits = [r for r in hits if r.get("task") == task]
    if not hits:
        raise UnusableInputError(
            f"baseline {ref!r} is neither a run directory nor a leaderboard entry "
            "(expected a path, MODEL@TASK, or a config_hash prefix of >= 4 characters); "
            f"entries: {', '.join(_entry_desc(r) for r in rows) or 'none'}."
        )
    return hits


def side_from_entry(ref: str, lb_dir: str | os.PathLike | None, task: str | None) -> Side:
    """Load a leaderboard entry (with its per-question score sidecar) as a :class:`Side`."""
    from harness.leaderboard import default_dir, read_records, read_scores

    recs = read_records(lb_dir)
    entries = resolve_entry(ref, recs.rows, task)
    tasks = sorted({r["task"] for r in entries})
    try:
        scores = read_scores(lb_dir, entries[0]["config_hash"])
    except DataError as e:
        raise UnusableInputError(f"baseline {ref!r}: {e}") from None
    first = entries[0]
    log.info("baseline %s resolved to %s", ref, ", ".join(_entry_desc(r) for r in entries))
    return Side(
        name=f"{_entry_desc(first)} in {Path(lb_dir or default_dir())}",
        samples=[s for s in scores if s.task in tasks],
        task_versions={r["task"]: r.get("task_version") for r in entries},
        prompt=(first.get("prompt"), first.get("prompt_version")),
        n_shot=first.get("n_shot"),
        tasks=tasks,
    )


def resolve_side(ref: str, lb_dir: str | os.PathLike | None, task: str | None, what: str) -> Side:
    """A run directory if ``ref`` is a folder, else a leaderboard entry."""
    if Path(ref).is_dir():
        return side_from_run(ref, what)
    if what == "candidate":
        raise UnusableInputError(f"candidate {ref!r} is not a run directory; pass the --output-dir of `harness eval`.")
    return side_from_entry(ref, lb_dir, task)


@dataclass(frozen=True)
class Row:
    """One line of the comparison table (a task overall, or one group of it)."""

    task: str
    group: str  # "all", or the subject / level / cell label
    diff: PairedDiff
    key: Any = None  # the group's metrics key: a subject, a level, or a (task, subject, level) cell


@dataclass
class TaskResult:
    task: str
    overall: PairedDiff
    groups: list[Row]  # per --by group (subject by default), for diagnosis
    failed: list[str] = field(default_factory=list)
    mdd: float = float("nan")  # minimum detectable drop at 80% power (fraction)
    mdd_assumed: bool = False
    n_for_1pt: int = 0


@dataclass
class CheckResult:
    """Outcome of :func:`check`: per-task results, the exit code, and the printable report."""

    tasks: list[TaskResult]
    exit_code: int
    report: str


def _keys_by_task(side: Side, tasks: Sequence[str]) -> dict[str, dict[tuple, Sample]]:
    out: dict[str, dict[tuple, Sample]] = {t: {} for t in tasks}
    for s in side.samples:
        if s.task in out:
            out[s.task].setdefault(s.key, s)
    return out


def _examples(keys: set) -> str:
    return ", ".join(f"{k[1]}#{k[2]}" for k in sorted(keys)[:3])


def validate(base: Side, cand: Side, tasks: Sequence[str]) -> dict[str, list[tuple[Sample, Sample]]]:
    """Check the two sides are comparable and pair their samples per task.

    Raises:
        UnusableInputError: different prompts or task versions, a task missing on one side,
            missing samples, or different problem sets (one line each).
    """
    if base.prompt != cand.prompt:
        raise UnusableInputError(
            f"prompt differs: baseline {base.prompt[0]} v{base.prompt[1]}, candidate {cand.prompt[0]} v{cand.prompt[1]}; "
            "re-run the candidate with the baseline's --prompt (or pick a baseline with the same prompt version)."
        )
    bk, ck = _keys_by_task(base, tasks), _keys_by_task(cand, tasks)
    pairs: dict[str, list[tuple[Sample, Sample]]] = {}
    for t in tasks:
        for side, keys, what in ((base, bk, "baseline"), (cand, ck, "candidate")):
            if not keys[t]:
                have = sorted({s.task for s in side.samples})
                raise UnusableInputError(f"task {t!r} has no samples in the {what} ({side.name}); it has: "
                                         f"{', '.join(have)}. Pass --task or evaluate that task.")
        bv, cv = base.task_versions.get(t), cand.task_versions.get(t)
        if bv is not None and cv is not None and str(bv) != str(cv):
            raise UnusableInputError(f"task {t!r} version differs: baseline {bv}, candidate {cv}; "
                                     "scores across task versions are not comparable, re-evaluate the baseline.")
        b, c = set(bk[t]), set(ck[t])
        only_b, only_c = b - c, c - b
        if only_b and not only_c:
            raise UnusableInputError(
                f"candidate is missing {len(only_b)} of {len(b)} samples of {t} (e.g. {_examples(only_b)}); "
                "finish the run (re-run `harness eval` to resume) with the baseline's --limit/--n."
            )
        if only_c and not only_b:
            raise UnusableInputError(
                f"baseline is missing {len(only_c)} of {len(c)} samples of {t} (e.g. {_examples(only_c)}); "
                "evaluate both with the same --limit/--n, or complete the baseline run."
            )
        if only_b:
            raise UnusableInputError(
                f"different problem sets for {t}: {len(only_b)} samples only in the baseline, {len(only_c)} only "
                f"in the candidate (e.g. {_examples(only_b)} vs {_examples(only_c)}); evaluate both on the same "
                "split and --limit."
            )
        pairs[t] = [(bk[t][k], ck[t][k]) for k in sorted(b)]
    return pairs


def check(
    baseline: str,
    candidate: str,
    *,
    task: str | None = None,
    mode: Mode = "strict",
    by: By = "subject",
    max_drop: float = 0.0,
    alpha: float = 0.05,
    min_accuracy: float | None = None,
    lb_dir: str | os.PathLike | None = None,
) -> CheckResult:
    """Compare a candidate run to a baseline, problem by problem.

    Args:
        baseline: a run directory, or a leaderboard entry (``MODEL@TASK``, label@TASK, or config_hash prefix).
        candidate: a run directory.
        task: compare only this task (default: the baseline entry's task, or every task of the baseline run).
        mode: "strict" or "flexible" grading (or "tol_strict"/"tol_flexible" for tolerance tasks).
        by: the per-group rows: "subject", "level" or "cell" (subject x level). Diagnosis only: the
            verdict uses each task as a whole.
        max_drop: tolerated drop in accuracy points (a significant drop must exceed it to fail).
        alpha: significance level; the CI level is ``1 - alpha``.
        min_accuracy: absolute floor for the candidate's accuracy, as a fraction in [0, 1].
        lb_dir: leaderboard folder for entry baselines.

    Returns:
        :class:`CheckResult` with ``exit_code`` 0 (pass) or 1 (fail) and the report text.

    Raises:
        UnusableInputError: inputs that cannot be compared (the CLI exits 2).
    """
    check_options({"baseline": baseline, "candidate": candidate, "task": task, "mode": mode, "by": by,
                   "max_drop": max_drop, "alpha": alpha, "min_accuracy": min_accuracy,
                   "lb_dir": None if lb_dir is None else str(lb_dir)})  # every option checked, exit 2 if bad
    base = resolve_side(baseline, lb_dir, task, "baseline")
    cand = resolve_side(candidate, lb_dir, task, "candidate")
    tasks = [task] if task else (base.tasks or sorted({s.task for s in base.samples}))
    pairs = validate(base, cand, tasks)
    key, label = GROUPINGS[by]
    results = []
    for t in tasks:
        bs, cs = [b for b, _ in pairs[t]], [c for _, c in pairs[t]]
        overall = metrics.paired(bs, cs, mode, 1 - alpha)
        assert overall is not None  # validate() paired every sample
        rows = [Row(t, label(g), d, g) for g, d in metrics.paired_by(bs, cs, key, mode, 1 - alpha).items()]
        res = TaskResult(task=t, overall=overall, groups=rows)
        var_d = overall.se ** 2 * overall.n
        if var_d <= 0:
            var_d, res.mdd_assumed = ASSUMED_FLIP_RATE, True
        res.mdd = minimum_detectable_difference(overall.n, var_d, alpha)
        res.n_for_1pt = required_sample_size(0.01, var_d, alpha)
        drop = -overall.diff * 100
        if overall.p_value < alpha and overall.ci_high < 0 and drop > max_drop:
            res.failed.append(
                f"{t}: significant drop of {drop:.1f} points (p={overall.p_value:.2g}, "
                f"CI [{overall.ci_low * 100:+.1f}, {overall.ci_high * 100:+.1f}]) exceeds --max-drop {max_drop:g}"
            )
        if min_accuracy is not None and overall.acc_b < min_accuracy:
            res.failed.append(f"{t}: candidate accuracy {overall.acc_b * 100:.1f}% is below --min-accuracy "
                              f"{min_accuracy * 100:.1f}%")
        results.append(res)
    code = 1 if any(r.failed for r in results) else 0
    return CheckResult(tasks=results, exit_code=code,
                       report=format_report(base, cand, results, mode, alpha, max_drop, min_accuracy, code, by))


def format_report(base: Side, cand: Side, results: Sequence[TaskResult], mode: str, alpha: float,
                  max_drop: float, min_accuracy: float | None, code: int, by: str = "subject") -> str:
    """The human-readable report: a table per task (overall and per group), power, verdict."""
    from tabulate import tabulate

    conf = round(100 * (1 - alpha))
    lines = [f"baseline:  {base.name}", f"candidate: {cand.name}",
             f"grading: {mode}; paired on (task, id, sample_idx); alpha={alpha:g}; max drop {max_drop:g} points"
             + (f"; floor {min_accuracy * 100:.1f}%" if min_accuracy is not None else "")]
    if base.n_shot != cand.n_shot:
        lines.append(f"note: n-shot differs (baseline {base.n_shot}, candidate {cand.n_shot})")
    if max(len(v) for v in metrics.group(cand.samples, "problem").values()) > 1:
        lines.append("note: several samples per problem: per-problem mean scores are compared; n, the right-only "
                     "counts and the p-value (exact sign test) are over problems")
    if cand.n_bad_lines:
        lines.append(f"note: the candidate's samples.jsonl had {cand.n_bad_lines} unreadable line(s), skipped")
    for r in results:
        table = []
        for row in [Row(r.task, "all", r.overall), *r.groups]:
            d = row.diff
            table.append([row.group, d.n, f"{d.acc_a * 100:.1f}", f"{d.acc_b * 100:.1f}", f"{d.diff * 100:+.1f}",
                          f"[{d.ci_low * 100:+.1f}, {d.ci_high * 100:+.1f}]", d.b, d.c, f"{d.p_value:.3g}"])
        lines += ["", f"## {r.task}", tabulate(
            table, headers=[by, "n", "baseline %", "candidate %", "diff (pts)", f"{conf}% CI (pts)",
                            "base-only right", "cand-only right", "McNemar p"],
            tablefmt="github", disable_numparse=True)]
        flips = (r.overall.b + r.overall.c) / r.overall.n
        basis = (f"assuming {ASSUMED_FLIP_RATE:.0%} of questions flip (the runs never disagreed here)"
                 if r.mdd_assumed else f"{flips:.1%} of questions flipped between the runs")
        lines.append(
            f"power: with n={r.overall.n} and {basis}, this gate detects a true drop of "
            f">= {r.mdd * 100:.1f} points 80% of the time (alpha={alpha:g}); smaller true drops usually pass "
            f"unnoticed. Detecting a 1-point drop would need about {r.n_for_1pt:,} problems. "
            f"Per-{by} rows have fewer problems and detect only larger drops."
        )
    lines.append("")
    failed = [f for r in results for f in r.failed]
    lines.append("FAIL: " + "; ".join(failed) if code else
                 "PASS: no statistically significant drop beyond the tolerance"
                 + (" and above the accuracy floor" if min_accuracy is not None else ""))
    return "\n".join(lines)
