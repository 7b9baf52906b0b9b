"""``harness weak`` and ``harness synth``: weak-topic selection and targeted synthesis (synth/)."""

from __future__ import annotations

import click

from harness.cli import data_dir_option


def _weak_options(f):
    from harness.options import click_options
    from synth.weak import WeakConfig

    return click_options(WeakConfig)(f)


@click.command("weak")
@click.argument("run_dir", type=click.Path())
@_weak_options
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the plan JSON here.")
def weak(run_dir, out, **flags):
    """Rank (task, subject, level) cells of an eval run and plan new problems for the weak ones.

    Every option is a field of synth.weak.WeakConfig.

    \b
    Example:
        harness weak runs/base --top 5 --min-samples 20 --out plan.json
    """
    from harness.options import from_mapping, given
    from synth.weak import WeakConfig, plan_table, weak_from_run

    cfg = from_mapping(WeakConfig, given(flags), where="flags")
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
