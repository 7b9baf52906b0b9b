"""``harness weak`` and ``harness synth``: weak-topic selection and targeted synthesis (synth/)."""

from __future__ import annotations

import click

from harness.cli import data_dir_option
from harness.cli.leaderboard import mode_option


@click.command("weak")
@click.argument("run_dir", type=click.Path())
@click.option("--top", default=5, show_default=True, help="How many weak cells to choose.")
@click.option("--min-samples", default=20, show_default=True, help="Cells with fewer problems are reported, never chosen.")
@click.option("--target", type=float, default=None, help="Reference accuracy (default: the task's overall accuracy).")
@click.option("--budget", default=1000, show_default=True, help="Total new problems, split over chosen cells by score.")
@mode_option("Grading mode of the cell accuracies")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the plan JSON here.")
def weak(run_dir, top, min_samples, target, budget, mode, out):
    """Rank (task, subject, level) cells of an eval run and plan new problems for the weak ones.

    \b
    Example:
        harness weak runs/base --top 5 --min-samples 20 --out plan.json
    """
    from synth.weak import WeakConfig, plan_table, weak_from_run

    cfg = WeakConfig(top=top, min_samples=min_samples, target=target, budget=budget, mode=mode)
    plan = weak_from_run(run_dir, cfg, out)
    click.echo(plan_table(plan))
    click.echo(f"\n{len(plan['cells'])} cell(s) chosen, {sum(c['n_new'] for c in plan['cells'])} new problems planned"
               + (f"; plan written to {out}" if out else ""))


def _synth_options(f):
    from harness.options import click_options
    from synth.pipeline import SynthConfig

    return click_options(SynthConfig, shared={"data_dir": data_dir_option})(f)


@click.command("synth")
@click.option("--plan", "plan_path", required=True, type=click.Path(dir_okay=False), help="Plan from `harness weak`.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="SFT JSONL to write (atomically).")
@_synth_options
@click.option("--no-progress", is_flag=True, help="No progress bars (weight loading included).")
def synth(plan_path, out, no_progress, **flags):
    """Make SFT data for the weak cells of a plan: verified generators, or a teacher model.

    The teacher path is resumable: finished work goes to OUT.work.jsonl; kill the run and re-run the same
    command to continue without repeating teacher calls. A changed teacher config (model, methods, --k,
    --seed, prompt) is refused: use a new --out or delete OUT.work.jsonl.

    \b
    Example:
        harness synth --plan plan.json --out data/sft.jsonl
        harness synth --plan plan.json --out data/sft.jsonl --teacher-backend openai \\
            --teacher-model qwen --teacher-base-url http://localhost:8000/v1 --k 4
    """
    from harness.eval import hide_loading_bars
    from harness.options import from_mapping, given
    from synth.pipeline import SynthConfig, report_table, report_warnings, run_synth

    cfg = from_mapping(SynthConfig, given(flags), where="flags")
    if no_progress:
        hide_loading_bars()
    report = run_synth(plan_path, out, cfg, progress=not no_progress)
    click.echo(report_table(report))
    click.echo(f"\n{report['counts']['written']} rows written to {out}; report: {report['report_path']}")
    for w in report_warnings(report):
        click.echo(f"Warning: {w}.", err=True)
