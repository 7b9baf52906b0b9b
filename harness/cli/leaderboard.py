"""``harness leaderboard add|show``: record runs and render leaderboard tables (see harness.leaderboard)."""

from __future__ import annotations

import click


def leaderboard_option(f):
    """Shared ``--leaderboard DIR`` flag."""
    return click.option(
        "--leaderboard",
        "lb_dir",
        type=click.Path(file_okay=False),
        default=None,
        envvar="HARNESS_LEADERBOARD_DIR",
        help="Leaderboard folder (default: $HARNESS_LEADERBOARD_DIR, then ./leaderboards).",
    )(f)


def mode_option(help_: str):
    """Shared ``--mode`` flag: a grading mode of :data:`harness.records.ALL_MODES`."""
    from harness.records import ALL_MODES

    return click.option("--mode", type=click.Choice(list(ALL_MODES)), default="strict", show_default=True,
                        help=help_ + " (tol_*: the task's numeric tolerance, where it has one).")


@click.group()
def leaderboard() -> None:
    """Record evaluation runs and show leaderboard tables.

    \b
    Example:
        harness leaderboard add runs/base --label baseline
        harness leaderboard show --task math500 --by subject
    """


@leaderboard.command("add")
@click.argument("run_dir", type=click.Path())
@click.option("--label", default=None, help="Free text shown in the tables (e.g. 'baseline', 'round 2').")
@click.option("--round", "round_", default=None, help="Closed-loop round; rounds get an accuracy-over-rounds plot.")
@click.option("--no-render", is_flag=True, help="Only record; skip re-rendering the tables and plots.")
@leaderboard_option
def add(run_dir: str, label: str | None, round_: str | None, no_render: bool, lb_dir: str | None) -> None:
    """Add a `harness eval` run directory (one row per task); re-adding the same config replaces it.

    \b
    Example:
        harness leaderboard add runs/base --label baseline
    """
    from harness.leaderboard import SCORES_DIR, add_run, default_dir

    res = add_run(run_dir, lb_dir, label=label, round_=round_, render=not no_render)
    lb = lb_dir or str(default_dir())
    for task, action in res.actions:
        verb = "added" if action == "added" else "replaced the existing entry (same model, task, prompt, config_hash)"
        click.echo(f"{task}: {verb}")
    click.echo(f"{res.n_records} records in {lb}; per-question scores in {lb}/{SCORES_DIR}/")
    if res.bad:
        click.echo(f"warning: {len(res.bad)} corrupt line(s) kept in the file but skipped: "
                   + ", ".join(f"line {n}" for n, _ in res.bad), err=True)
    for p in res.written:
        click.echo(f"wrote {p}")


@leaderboard.command("show")
@click.option("--task", default=None, help="Only this task.")
@click.option("--by", type=click.Choice(["subject", "level"]), default=None, help="One column per subject or level.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "html"]), default="md", show_default=True)
@mode_option("Metric used for ranking and the --by columns")
@leaderboard_option
def show(task: str | None, by: str | None, fmt: str, mode: str, lb_dir: str | None) -> None:
    """Print the leaderboard as a Markdown, CSV or HTML table (best first).

    \b
    Example:
        harness leaderboard show --task gsm8k --format csv > gsm8k.csv
    """
    from harness.leaderboard import show as show_

    text, recs = show_(lb_dir, task=task, by=by, fmt=fmt, mode=mode)  # type: ignore[arg-type]
    click.echo(text, nl=not text.endswith("\n"))
    if recs.bad:
        click.echo(f"warning: skipped {len(recs.bad)} corrupt line(s) in records.jsonl ("
                   + "; ".join(msg for _, msg in recs.bad) + ")", err=True)
