"""``harness eval``, ``harness merge`` and ``harness lm-eval-tasks``: thin wrappers over
:mod:`harness.eval`, :mod:`harness.reports` and :mod:`harness.lmeval_tasks`."""

from __future__ import annotations

import dataclasses
import typing

import click

from harness.cli import data_dir_option
from harness.errors import ConfigError


def _pair(text: str, flag: str, example: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"{flag} expects KEY=VALUE such as {example}, found {text!r}.")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


def _json_value(text: str) -> object:
    """A ``--backend-arg`` value: JSON when it parses (ints, floats, true/false), else the string."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


#: How a flag's text becomes a field's value, by the field's ``cli`` metadata (see EvalConfig).
_READERS = {
    "list": lambda vals, flag: tuple(x.strip() for v in vals for x in v.split(",") if x.strip()),
    "pairs": lambda vals, flag: tuple(_pair(v, flag, "question=problem") for v in vals),
    "json_pairs": lambda vals, flag: tuple(
        (k.replace("-", "_"), _json_value(v)) for k, v in (_pair(x, flag, "tensor_parallel_size=2") for x in vals)),
}


def _flag(fld: dataclasses.Field) -> str:
    return fld.metadata.get("flag") or "--" + fld.name.replace("_", "-")


def config_options(cls: type):
    """Click options for every field of the config dataclass ``cls``, one per field: the flag name, type,
    help and shown default all come from the field (``cli`` metadata: ``list`` = repeatable and
    comma-separated, ``pairs``/``json_pairs`` = repeatable KEY=VALUE, ``shard`` = i/n, ``data_dir`` = the
    shared ``--data-dir`` flag). Every option defaults to None (= not given: the dataclass default applies)."""
    def deco(f):
        hints = typing.get_type_hints(cls)
        for fld in reversed(dataclasses.fields(cls)):
            kind, flag = fld.metadata.get("cli"), _flag(fld)
            if kind == "data_dir":
                f = data_dir_option(f)
                continue
            tp = hints[fld.name]
            base = next((a for a in typing.get_args(tp) if a is not type(None)), tp) if typing.get_args(tp) else tp
            default = fld.default if fld.default is not dataclasses.MISSING else None
            shown = ",".join(default) if isinstance(default, tuple) and default else default
            text = fld.metadata.get("help", "") + ("" if shown in (None, "", ()) else f" [default: {shown}]")
            required = fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING
            if base is bool:
                opt = click.option(f"{flag}/--no-{flag[2:]}", fld.name, default=None, help=text)
            elif kind in _READERS:
                opt = click.option(flag, fld.name, multiple=True, help=text)
            else:
                ctype = click.Choice(fld.metadata["choices"]) if "choices" in fld.metadata else {
                    int: int, float: float}.get(base, str)
                opt = click.option(flag, fld.name, type=ctype, default=None, required=required, help=text)
            f = opt(f)
        return f
    return deco


def config_from_flags(cls: type, flags: dict):
    """Build ``cls`` from the given flags (None or empty = not given), reading each as its field says.

    Raises:
        ConfigError: a flag's text is malformed, or the config is invalid.
    """
    from harness.eval import parse_shard

    values = {}
    for fld in dataclasses.fields(cls):
        v = flags.get(fld.name)
        if v is None or v == ():
            continue
        kind = fld.metadata.get("cli")
        values[fld.name] = _READERS[kind](v, _flag(fld)) if kind in _READERS else parse_shard(v) if kind == "shard" else v
    return cls(**values)


def _eval_options(f):
    from harness.eval import EvalConfig

    return config_options(EvalConfig)(f)


@click.command("eval")
@_eval_options
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def eval_cmd(no_progress, **flags) -> None:
    """Evaluate a model on math benchmarks; resumable, with per-subject/level reports.

    Every option is a field of harness.eval.EvalConfig. Requests stream with up to --concurrency in flight
    (no batch barrier); finished samples are recorded as they land, so a killed run resumes where it was.

    \b
    Examples:
        harness eval --model ./ckpt --tasks gsm8k,math500 --limit 50 --output-dir runs/base
        harness eval --model qwen --backend openai --base-url http://gpu1:8000/v1,http://gpu2:8000/v1 \\
            --tasks math500 --concurrency 256
    """
    from harness.eval import EvalConfig, evaluate
    from harness.reports import format_tables

    results = evaluate(config_from_flags(EvalConfig, flags), progress=not no_progress)
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
