"""``harness eval``, ``harness merge`` and ``harness lm-eval-tasks``: thin wrappers over
:mod:`harness.eval`, :mod:`harness.reports` and :mod:`harness.lmeval_tasks`."""

from __future__ import annotations

import click

from harness.cli import data_dir_option, judge_options


def _eval_options(f):
    from harness.eval import EvalConfig
    from harness.options import click_options

    return click_options(EvalConfig, shared={"data_dir": data_dir_option})(f)


@click.command("eval")
@_eval_options
@judge_options
@click.option("--no-progress", is_flag=True, help="Hide the progress bars (weight loading included).")
def eval_cmd(no_progress, **flags) -> None:
    """Evaluate a model on math benchmarks; resumable, with per-subject/level reports.

    Every option is a field of harness.eval.EvalConfig. Requests stream with up to --concurrency in flight
    (no batch barrier); finished samples are recorded as they land, so a killed run resumes where it was.

    \b
    Examples:
        harness eval --model ./ckpt --tasks gsm8k,math500 --limit 50 --output-dir runs/base
        harness eval --model qwen --backend openai --base-url http://gpu1:8000/v1,http://gpu2:8000/v1 \\
            --tasks math500 --concurrency 256
        harness eval --model ./ckpt --tasks math500 --judge-base-url http://judge:8001/v1 --judge-model qwen-72b
    """
    from harness.eval import EvalConfig, evaluate, hide_loading_bars
    from harness.judge import judge_from_flags
    from harness.options import from_mapping, given
    from harness.reports import format_tables

    if no_progress:
        hide_loading_bars()
    judge = judge_from_flags(flags)  # takes the --judge-* flags out
    results = evaluate(from_mapping(EvalConfig, given(flags), where="flags"), progress=not no_progress, judge=judge)
    click.echo(format_tables(results, warnings=False))
    g = results["generation"]
    click.echo(f"\n{results['output_dir']}: generated {g['samples']} samples this run"
               + (f", {g['tokens_per_s']} tokens/s" if g["tokens_per_s"] else "") + ".")
    if "judge_pass" in results:
        j = results["judge_pass"]
        click.echo(f"judge: {j['samples']} samples judged this run, {j['requests']} requests, "
                   f"{j['prompt_tokens']} prompt + {j['tokens']} completion tokens.")
    for w in results.get("warnings") or []:
        click.echo(f"\n{w}", err=True)


@click.command("merge")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@data_dir_option
def merge(out_dir, runs, data_dir) -> None:
    """Merge shard run directories (same config except --shard) into OUT_DIR.

    \b
    Example:
        harness merge runs/full runs/shard0 runs/shard1
    """
    import os

    from harness.eval import merge_runs
    from harness.reports import format_tables

    if data_dir:
        os.environ["HARNESS_DATA_DIR"] = str(data_dir)
    res = merge_runs(out_dir, list(runs))
    click.echo(format_tables(res["results"]))
    click.echo(f"\nmerged {len(runs)} runs: {res['samples']} samples into {out_dir}")
    for task, ids in res["missing"].items():
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        click.echo(f"missing from {task}: {len(ids)} problems ({shown}); re-run `harness eval` with the "
                   f"unsharded config and --output-dir {out_dir} to fill them", err=True)


@click.command("lm-eval-tasks")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the generated YAMLs (default: a per-user cache folder).")
@click.option("--max-gen-toks", type=int, default=1024, show_default=True, help="Generation budget in the YAMLs.")
@data_dir_option
def lm_eval_tasks(out_dir, max_gen_toks, data_dir) -> None:
    """Write an lm-eval task YAML per registered task (harness_gsm8k, harness_math500, harness_svamp, ...),
    scored by harness.answers with the task's own answer rules, and print the include path.

    \b
    Example:
        lm_eval --model hf --model_args pretrained=./ckpt \\
            --include_path "$(harness lm-eval-tasks --data-dir ../shared/data)" --tasks harness_gsm8k
    """
    from harness.lmeval_tasks import write_task_dir

    click.echo(str(write_task_dir(data_dir, out_dir, max_gen_toks=max_gen_toks)))
