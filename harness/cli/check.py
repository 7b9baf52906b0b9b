"""``harness check``: the CI accuracy gate (see harness.check). Exit 0 pass, 1 fail, 2 unusable input."""

from __future__ import annotations

import click

from harness.cli.leaderboard import leaderboard_option, mode_option


@click.command("check")
@click.option("--baseline", required=True,
              help="A run directory, or a leaderboard entry: MODEL@TASK (model, its last path part, or label) "
                   "or a config_hash prefix.")
@click.option("--candidate", required=True, type=click.Path(), help="The run directory to judge.")
@click.option("--task", default=None, help="Compare only this task (default: the baseline's tasks).")
@mode_option("Grading mode")
@click.option("--by", type=click.Choice(["subject", "level", "cell"]), default="subject", show_default=True,
              help="Per-group rows of the report (cell: subject x level); the verdict uses each whole task.")
@click.option("--max-drop", type=float, default=0.0, show_default=True,
              help="Tolerated drop in accuracy points; a significant drop must exceed it to fail.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level (CI is 1-alpha).")
@click.option("--min-accuracy", type=float, default=None,
              help="Fail when the candidate's accuracy is below this fraction (0.45 = 45%).")
@leaderboard_option
@click.pass_context
def check(ctx: click.Context, baseline: str, candidate: str, task: str | None, mode: str, by: str, max_drop: float,
          alpha: float, min_accuracy: float | None, lb_dir: str | None) -> None:
    """Fail (exit 1) when the candidate is significantly worse than the baseline, problem by problem.

    Exit 0: no significant drop beyond --max-drop (and above --min-accuracy). Exit 2: the runs cannot be
    compared (different problems, prompt or task versions, missing samples), with a one-line reason.

    \b
    Example:
        harness check --baseline base@gsm8k --candidate runs/ci --max-drop 1
    """
    from harness.check import check as run_check

    res = run_check(baseline, candidate, task=task, mode=mode, by=by, max_drop=max_drop,  # type: ignore[arg-type]
                    alpha=alpha, min_accuracy=min_accuracy, lb_dir=lb_dir)
    click.echo(res.report)
    ctx.exit(res.exit_code)
