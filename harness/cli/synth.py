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


@click.command("synth")
@click.option("--plan", "plan_path", required=True, type=click.Path(dir_okay=False), help="Plan from `harness weak`.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="SFT JSONL to write (atomically).")
@click.option("--teacher-backend", type=click.Choice(["hf", "openai", "vllm"]), default=None,
              help="Augment train-split seeds with this teacher (default: verified generators, no teacher).")
@click.option("--teacher-model", default=None, help="Teacher checkpoint path or served model name.")
@click.option("--teacher-base-url", default=None,
              help="OpenAI-compatible server URL(s), comma-separated for several servers (openai backend).")
@click.option("--methods", default="metamath,evol,xwin", show_default=True, help="Augmentation methods.")
@click.option("--k", default=4, show_default=True, help="Teacher solutions per new problem (majority vote).")
@click.option("--seed", default=0, show_default=True)
@click.option("--prompt", "prompt_name", default="qwen-boxed", show_default=True, help="Prompt template of the rows.")
@click.option("--decontam-n", default=30, show_default=True, help="Word n-gram length of the test-set filter.")
@click.option("--no-decontam", is_flag=True, help="Skip decontamination (only for offline experiments).")
@click.option("--batch-size", default=32, show_default=True, help="hf teacher: prompts per forward pass.")
@click.option("--concurrency", type=int, default=None,
              help="Teacher requests in flight (default: the backend's, e.g. 256 for openai); a new one starts "
                   "as soon as one finishes.")
@click.option("--request-timeout", type=float, default=600.0, show_default=True,
              help="openai teacher: seconds one request may take.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@data_dir_option
def synth(plan_path, out, teacher_backend, teacher_model, teacher_base_url, methods, k, seed, prompt_name,
          decontam_n, no_decontam, batch_size, concurrency, request_timeout, no_progress, data_dir):
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
    from synth.pipeline import SynthConfig, report_table, run_synth

    cfg = SynthConfig(
        teacher_backend=teacher_backend, teacher_model=teacher_model, teacher_base_url=teacher_base_url,
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()), k=k, seed=seed, prompt=prompt_name,
        decontam_n=decontam_n, decontam=not no_decontam, data_dir=data_dir, batch_size=batch_size,
        concurrency=concurrency, request_timeout=request_timeout,
    )
    report = run_synth(plan_path, out, cfg, progress=not no_progress)
    click.echo(report_table(report))
    click.echo(f"\n{report['counts']['written']} rows written to {out}; report: {report['report_path']}")
