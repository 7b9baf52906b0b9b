"""The ``harness`` command line: a thin layer over the Python API.

Each command lives in its own module under ``harness/cli/`` and is imported only when used
(or when ``--help`` lists commands), so ``harness grade`` never imports torch.
Library errors (:class:`harness.errors.HarnessError`) print as one ``Error: ...`` line, exit 1.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys

import click

from harness.errors import HarnessError
from harness.version import __version__

#: command name -> "module:attribute" of a click command.
COMMANDS: dict[str, str] = {
    "grade": "harness.cli.grade:grade",
    "tasks": "harness.cli.grade:tasks",
    "eval": "harness.cli.eval:eval_cmd",
    "merge": "harness.cli.eval:merge",
    "serve": "harness.cli.serve:serve",
    "serve-reward": "harness.cli.reward:serve_reward",
    "lm-eval-tasks": "harness.cli.eval:lm_eval_tasks",
    "leaderboard": "harness.cli.leaderboard:leaderboard",
    "check": "harness.cli.check:check",
    "weak": "harness.cli.synth:weak",
    "synth": "harness.cli.synth:synth",
    "clean": "harness.cli.clean:clean",
    "train": "harness.cli.train:train",
    "loop": "harness.cli.loop:loop",
    "scaling": "harness.cli.loop:scaling",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    @staticmethod
    def _available(name: str) -> bool:
        mod = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(mod) is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not self._available(name):
            return None
        mod, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(mod), attr)

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from harness.errors import did_you_mean

            ctx.fail(did_you_mean(name, self.list_commands(ctx), "command"))
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HarnessError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(getattr(e, "exit_code", 1))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """mathharness: evaluate, find weak topics, synthesize, fine-tune, gate.

    \b
    Example:
        harness eval --model ./ckpt --tasks gsm8k,math500 --output-dir runs/base
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def data_dir_option(f):
    """Shared ``--data-dir`` flag."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        envvar="HARNESS_DATA_DIR",
        help="Benchmark data folder laid out like ../shared/data (default: $HARNESS_DATA_DIR, then the HF hub).",
    )(f)


def judge_options(f):
    """Shared judge flags (``--judge-base-url``, ``--judge-model``, ...): one per field of
    :class:`harness.judge.JudgeConfig`; the command reads them with :func:`harness.judge.judge_from_flags`."""
    from harness.judge import JudgeConfig
    from harness.options import click_options

    return click_options(JudgeConfig)(f)
