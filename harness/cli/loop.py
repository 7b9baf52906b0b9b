"""``harness loop`` (the closed loop) and ``harness scaling`` (accuracy against data size per cell).

Every :class:`harness.loop.LoopConfig` field is a flag (generated from the dataclass, whose field
``help`` is the one place each option is documented) and a key of the optional ``--config`` YAML.
Flags override the YAML.
"""

from __future__ import annotations

import dataclasses
import typing

import click

from harness.errors import HarnessError


def _loop_options(f):
    from harness.loop import LoopConfig

    hints = typing.get_type_hints(LoopConfig)
    for fld in reversed(dataclasses.fields(LoopConfig)):
        name = "--" + fld.name.replace("_", "-")
        tp = hints[fld.name]
        args = typing.get_args(tp)
        base = next((a for a in args if a is not type(None)), tp) if args else tp
        if fld.name == "tasks":
            ctype = str
        else:
            ctype = {int: int, float: float, str: str}.get(base, str)
        default = fld.default if fld.default is not dataclasses.MISSING else None
        shown = "" if default in (None, "", ()) else f" [default: {default}]"
        f = click.option(name, fld.name, type=ctype, default=None, help=fld.metadata.get("help", "") + shown)(f)
    return f


@click.command("loop")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML file with any of the options below (flags override it).")
@click.option("--preset", type=click.Choice(["demo"]), default=None,
              help="demo: build a tiny model and benchmark and run the loop on CPU (README main command).")
@click.option("--demo-size", type=click.Choice(["full", "ci"]), default="full", show_default=True,
              help="Size of the demo preset (ci: reduced, for tests).")
@_loop_options
def loop(config_path, preset, demo_size, **flags) -> None:
    """Evaluate -> find weak cells -> synthesize -> fine-tune -> re-evaluate, for several rounds.

    Resumable: run the same command again after a crash or kill and it continues at the step that
    did not finish; a changed configuration is refused before any work starts.

    \b
    Examples:
        harness loop --preset demo --run-dir runs/demo
        harness loop --model ./ckpt --tasks math500 --target 0.6 --rounds 3 --run-dir runs/loop1
        harness loop --config loop.yaml --run-dir runs/loop2
    """
    from harness.loop import config_from_mapping, load_yaml_config, run_loop

    values: dict = load_yaml_config(config_path) if config_path else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    if preset == "demo":
        from harness.loop.demo import demo_config, demo_report

        run_dir = values.get("run_dir") or "runs/demo"
        demo = demo_config(run_dir, size=demo_size, deepspeed=values.get("deepspeed") or "zero2",
                           seed=int(values.get("seed") or 0))
        values = {**demo, **{k: v for k, v in values.items() if k not in ("model", "tasks")}}
        values["run_dir"] = run_dir
        cfg = config_from_mapping(values)
        run_loop(cfg)
        click.echo(demo_report(cfg.run_dir))
        return
    cfg = config_from_mapping(values)
    run_loop(cfg)


@click.command("scaling")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--target", type=float, default=None, help="Accuracy to reach; estimates the data each cell needs.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="PNG to write (default RUN_DIR/scaling.png).")
def scaling(run_dir, target, plot_path) -> None:
    """Fit accuracy against log(synthetic examples) per cell from a loop run, plot it, and estimate
    how much more data each cell needs to reach --target.

    \b
    Example:
        harness scaling runs/demo --target 0.9
    """
    from pathlib import Path

    from harness.scaling import SCALING_FILE, fit_run, plot_scaling, scaling_table

    if not (Path(run_dir) / SCALING_FILE).is_file():
        raise HarnessError(f"Expected {Path(run_dir) / SCALING_FILE} from a `harness loop` run; it does not exist.")
    fits = fit_run(run_dir, target)
    click.echo(scaling_table(fits))
    out = plot_scaling(fits, plot_path or Path(run_dir) / "scaling.png")
    click.echo(f"plot: {out}")
