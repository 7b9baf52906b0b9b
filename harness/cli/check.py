"""``harness check``: the CI accuracy gate (see harness.check). Exit 0 pass, 1 fail, 2 unusable input.

Every :class:`harness.check.CheckConfig` field is a flag, generated from the dataclass.
"""

from __future__ import annotations

import click

from harness.check import CheckConfig
from harness.cli.leaderboard import leaderboard_option
from harness.options import click_options


@click.command("check")
@click_options(CheckConfig, shared={"lb_dir": leaderboard_option})
@click.pass_context
def check(ctx: click.Context, **flags) -> None:
    """Fail (exit 1) when the candidate is significantly worse than the baseline, problem by problem.

    Exit 0: no significant drop beyond --max-drop (and above --min-accuracy). Exit 2: the runs cannot be
    compared (different problems, prompt or task versions, missing samples) or an option is invalid, with a
    one-line reason.

    \b
    Example:
        harness check --baseline base@gsm8k --candidate runs/ci --max-drop 1
    """
    from dataclasses import asdict

    from harness.check import check as run_check
    from harness.check import check_options
    from harness.options import given

    cfg = asdict(check_options(given(flags), where="flags"))
    res = run_check(cfg.pop("baseline"), cfg.pop("candidate"), **cfg)
    click.echo(res.report)
    ctx.exit(res.exit_code)
