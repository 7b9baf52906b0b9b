"""``harness eval``, ``harness merge`` and ``harness lm-eval-tasks``: thin wrappers over
:mod:`harness.eval`, :mod:`harness.reports` and :mod:`harness.lmeval_tasks`."""

from __future__ import annotations

import click

from harness.cli import data_dir_option
from harness.errors import ConfigError


def _fields(pairs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"--field expects OURS=THEIRS such as question=problem, found {p!r}.")
        k, v = p.split("=", 1)
        out.append((k.strip(), v.strip()))
    return tuple(out)


def _backend_args(pairs: tuple[str, ...]) -> tuple[tuple[str, object], ...]:
    """``KEY=VALUE`` pairs for the backend constructor; values parsed as JSON when they parse (ints, floats,
    true/false), else kept as strings."""
    import json

    out = []
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"--backend-arg expects KEY=VALUE such as tensor_parallel_size=2, found {p!r}.")
        k, v = p.split("=", 1)
        try:
            val: object = json.loads(v)
        except ValueError:
            val = v
        out.append((k.strip().replace("-", "_"), val))
    return tuple(out)


@click.command("eval")
@click.option("--model", required=True, help="Checkpoint directory, hub id, or (openai) served model name.")
@click.option("--tasks", default="math500", show_default=True,
              help="Comma-separated task names (gsm8k, math500, math) or JSONL file paths.")
@click.option("--backend", default="hf", show_default=True, help="hf | vllm | openai.")
@click.option("--base-url", default=None, help="OpenAI-compatible server URL (openai backend).")
@click.option("--prompt", default=None, help="Prompt template name (default: qwen-boxed).")
@click.option("--num-fewshot", type=int, default=None, help="Few-shot examples (default: the prompt's).")
@click.option("--limit", type=int, default=None, help="Evaluate the first N problems of each task.")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Prompts per backend call.")
@click.option("--max-new-tokens", type=int, default=1024, show_default=True, help="Generation budget.")
@click.option("--temperature", type=float, default=0.0, show_default=True, help="0 = greedy.")
@click.option("--top-p", type=float, default=1.0, show_default=True, help="Nucleus sampling p.")
@click.option("--n", "n", type=int, default=1, show_default=True, help="Samples per problem (maj@k, pass@k).")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option("--output-dir", default=None, help="Run directory (default runs/<model>-<YYYYMMDD>); re-run to resume.")
@click.option("--shard", default=None, help="i/n: evaluate problems with index % n == i (join with harness merge).")
@click.option("--split", default="test", show_default=True, help="Data split.")
@click.option("--field", "fields", multiple=True, help="Custom JSONL field map OURS=THEIRS, e.g. question=problem.")
@click.option("--answer-task", type=click.Choice(["math", "gsm8k"]), default="math", show_default=True,
              help="Answer rules for custom JSONL tasks.")
@click.option("--chat/--no-chat", default=None, help="Send chat messages (default: when the model has a template).")
@click.option("--backend-arg", "backend_args", multiple=True,
              help="KEY=VALUE for the backend constructor, e.g. tensor_parallel_size=2 (vllm), device=cuda:1 (hf).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@data_dir_option
def eval_cmd(model, tasks, backend, base_url, prompt, num_fewshot, limit, batch_size, max_new_tokens, temperature,
             top_p, n, seed, output_dir, shard, split, fields, answer_task, chat, backend_args, no_progress,
             data_dir) -> None:
    """Evaluate a model on math benchmarks; resumable, with per-subject/level reports.

    \b
    Example:
        harness eval --model ./ckpt --tasks gsm8k,math500 --limit 50 --output-dir runs/base
    """
    from harness.eval import EvalConfig, default_output_dir, evaluate, parse_shard
    from harness.reports import format_tables

    cfg = EvalConfig(
        model=model, tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()), backend=backend,
        base_url=base_url, prompt=prompt, num_fewshot=num_fewshot, limit=limit, batch_size=batch_size,
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=n, seed=seed,
        output_dir=output_dir or default_output_dir(model), shard=parse_shard(shard), data_dir=data_dir,
        split=split, chat=chat, fields=_fields(fields), answer_task=answer_task,
        backend_kwargs=_backend_args(backend_args),
    )
    results = evaluate(cfg, progress=not no_progress)
    click.echo(format_tables(results))
    g = results["generation"]
    click.echo(f"\n{results['output_dir']}: generated {g['samples']} samples this run"
               + (f", {g['tokens_per_s']} tokens/s" if g["tokens_per_s"] else "") + ".")


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
    """Write lm-eval task YAMLs (harness_gsm8k, harness_math500, harness_math) scored by harness.answers,
    and print the include path.

    \b
    Example:
        lm_eval --model hf --model_args pretrained=./ckpt \\
            --include_path "$(harness lm-eval-tasks --data-dir ../shared/data)" --tasks harness_gsm8k
    """
    from harness.lmeval_tasks import write_task_dir

    click.echo(str(write_task_dir(data_dir, out_dir, max_gen_toks=max_gen_toks)))
