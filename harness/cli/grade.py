"""``harness grade`` (regrade a JSONL of model outputs) and ``harness tasks`` (list benchmarks).

Thin wrappers over :mod:`harness.gradefile` and :mod:`harness.data`; neither imports torch.
"""

from __future__ import annotations

import click

from harness.cli import data_dir_option, judge_options


def _grade_options(f):
    from harness.gradefile import GradeConfig
    from harness.options import click_options

    return click_options(GradeConfig, shared={"data_dir": data_dir_option})(f)


@click.command("grade")
@_grade_options
@judge_options
def grade(**flags) -> None:
    """Regrade model outputs from a JSONL file, strict and flexible side by side.

    Every option is a field of harness.gradefile.GradeConfig.

    Prints accuracy with a Wilson 95% CI, counts per status, and accuracy per subject and
    level when known. Rows: {"output", "gold"}; {"output", "id"} joined to the task's gold
    answers (MATH "unique_id" also accepted); or lm-evaluation-harness --log_samples rows
    (the raw response resps[0][0] is regraded against the gold in "doc").

    \b
    Examples:
        harness grade --input outputs.jsonl --task math500 --output graded.jsonl
        harness grade --input samples_gsm8k_2025-01-01T00-00-00.jsonl --task gsm8k --mode flexible
        harness grade --input outputs.jsonl --task math --judge-base-url http://127.0.0.1:8001/v1 --judge-model m
    """
    from harness.errors import BackendError
    from harness.gradefile import GradeConfig, grade_file, graded_rows, judge_report, summarize
    from harness.io import write_jsonl
    from harness.judge import judge_from_flags
    from harness.options import from_mapping, given

    judge = judge_from_flags(flags)  # takes the --judge-* flags out
    cfg = from_mapping(GradeConfig, given(flags), where="flags")
    report = grade_file(cfg.input, cfg.task, data_dir=cfg.data_dir, skip_bad=cfg.skip_bad)
    if judge is not None:
        judge_report(report, judge)
    click.echo(summarize(report, cfg.mode))
    if cfg.output:
        n = write_jsonl(cfg.output, graded_rows(report))
        click.echo(f"\nwrote {n} graded rows to {cfg.output}")
    if report.judge_error:
        raise BackendError(report.judge_error)


@click.command("tasks")
@data_dir_option
def tasks(data_dir: str | None) -> None:
    """List the registered benchmarks and group aliases: version, answer rules, tolerance setting,
    splits with row counts, whether local data is found, and the HF hub dataset each falls back to.

    \b
    Example:
        harness tasks --data-dir ../shared/data
    """
    from tabulate import tabulate

    from harness.data import GROUPS, get_task, require_data_dir, task_names

    ddir = require_data_dir(data_dir)
    rows: list[list] = []
    found: dict[str, bool] = {}
    for name in task_names():
        spec = get_task(name)
        local = []
        for split, n in spec.splits.items():
            where = "-" if ddir is None else ("found" if spec.local_path(ddir, split).is_file() else "missing")
            found[name] = found.get(name, True) and where == "found"
            local.append(f"{split} {n or '?'} ({where})")
        rule = "exact" if spec.rel_tol is None else f"exact; tol {spec.rel_tol:g} rel"
        rows.append([name, spec.version, spec.answer_task, rule, "; ".join(local), spec.hub_id or "-",
                     spec.description])
    click.echo(tabulate(rows, headers=["task", "version", "answers", "equality", "splits (local data)", "HF hub",
                                       "description"], disable_numparse=True))
    groups = []
    for alias, members in GROUPS.items():
        n = sum(get_task(m).splits.get("test", 0) for m in members)
        have = "-" if ddir is None else f"{sum(found[m] for m in members)} of {len(members)} found"
        groups.append([alias, ", ".join(members), n, have])
    click.echo("\n" + tabulate(groups, headers=["alias", "tasks", "test problems", "local data"],
                                disable_numparse=True))
    click.echo(f"\nData folder: {ddir}" if ddir is not None
               else "\nNo --data-dir or HARNESS_DATA_DIR: data would come from the HF hub.")
