"""harness/options.py: a config dataclass as the one declaration of its options (flags, YAML keys, type
and range checks with every problem at once, the JSON hand-off), on a small real config class.

Run: ``python3 -m pytest -q tests/test_options.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import click
import pytest
from click.testing import CliRunner

from harness.errors import ConfigError
from harness.options import (
    check,
    check_partial,
    click_options,
    from_mapping,
    given,
    load_yaml,
    parse_text,
    read_json,
    write_json,
)


@dataclass(frozen=True)
class Inner:
    WHAT: ClassVar[str] = "inner config"

    lr: float = field(default=1e-3, metadata={"help": "learning rate", "gt": 0})
    steps: int = field(default=-1, metadata={"help": "steps", "min": -1})

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class Cfg:
    WHAT: ClassVar[str] = "test config"

    name: str = field(default="", metadata={"help": "a name", "required": True})
    tasks: tuple[str, ...] = field(default=(), metadata={"help": "tasks", "sep": ","})
    files: tuple[str, ...] = field(default=(), metadata={"help": "files"})
    rounds: int = field(default=2, metadata={"help": "rounds", "min": 1})
    frac: float = field(default=0.0, metadata={"help": "a fraction", "min": 0, "lt": 1})
    limit: int | None = field(default=None, metadata={"help": "a limit", "min": 1})
    mode: Literal["strict", "flexible"] = field(default="strict", metadata={"help": "mode"})
    flag: bool = field(default=False, metadata={"help": "a flag"})
    inner: dict[str, Any] = field(default_factory=dict, metadata={"help": "inner options", "options_of": lambda: Inner})

    def __post_init__(self) -> None:
        check(self, lambda c: ["frac: must be 0 when rounds is 1"] if c.rounds == 1 and c.frac else [])


def test_types_and_ranges_from_the_annotations_all_at_once():
    with pytest.raises(ConfigError) as e:
        from_mapping(Cfg, {"rounds": True, "frac": 1, "limit": "3", "mode": "loose", "flag": "yes", "tasks": 5,
                           "inner": {"lr": 0, "stepz": 1}, "extra": 1}, where="x.yaml")
    msg = str(e.value)
    assert msg.startswith("Invalid test config (x.yaml): ") and msg.count("\n") == 0
    for needle in ("rounds: expected an integer >= 1, found True (true/false)",  # a bool is not an integer
                   "frac: expected a number in [0, 1), found 1.0",
                   "limit: expected an integer >= 1 or null, found '3' (a string) (write 3 without quotes)",
                   "mode: expected one of strict, flexible, found 'loose'", "flag: expected true or false",
                   "tasks: expected a list of strings (or one ','-separated string), found 5",
                   "inner.lr: expected a number > 0, found 0", "Unknown inner config key 'inner.stepz'",
                   "Unknown test config key 'extra'", "name: required, found nothing (--name: a name)"):
        assert needle in msg, (needle, msg)
    assert len(e.value.problems) == 10


def test_values_are_coerced_and_cross_checks_run_on_well_typed_fields():
    cfg = from_mapping(Cfg, {"name": "n", "tasks": "a, b,", "files": ["x"], "frac": 0, "limit": None,
                             "inner": {"lr": 1, "steps": 3}})
    assert cfg.tasks == ("a", "b") and cfg.files == ("x",) and cfg.frac == 0.0 and isinstance(cfg.frac, float)
    assert cfg.inner == {"lr": 1.0, "steps": 3} and isinstance(cfg.inner["lr"], float)
    with pytest.raises(ConfigError, match="frac: must be 0 when rounds is 1"):
        Cfg(name="n", rounds=1, frac=0.5)
    assert check_partial(Cfg, {"rounds": 3}) == {"rounds": 3}  # no required-field check on a part


def test_yaml_reads_exponents_as_numbers_and_quoted_numbers_as_strings(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text('name: n\nfrac: 5e-1\nlimit: "3"\nrun-dir: r\ninner: {lr: 1e-4}\n')
    raw = load_yaml(p, "test config")
    assert raw == {"name": "n", "frac": 0.5, "limit": "3", "run_dir": "r", "inner": {"lr": 1e-4}}
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of option: value, found list"):
        load_yaml(p, "test config")
    with pytest.raises(ConfigError, match="Expected a test config YAML at"):
        load_yaml(tmp_path / "none.yaml", "test config")


def test_text_values_parse_by_the_field_type():
    assert parse_text(Cfg, "limit", "none") is None and parse_text(Cfg, "limit", "7") == 7
    assert parse_text(Cfg, "flag", "true") is True and parse_text(Cfg, "rounds", "two") == "two"
    assert parse_text(Cfg, "tasks", "a,b") == ("a", "b") and parse_text(Inner, "lr", "1e-5") == 1e-5


def test_flags_are_generated_from_the_fields(tmp_path):
    seen = {}

    @click.command()
    @click_options(Cfg)
    def cmd(**flags):
        seen.update(given(flags))

    res = CliRunner().invoke(cmd, ["--help"])
    assert res.exit_code == 0
    for flag in ("--name", "--tasks", "--files", "--rounds", "--frac", "--limit", "--mode [strict|flexible]",
                 "--flag / --no-flag", "--inner KEY=VALUE"):
        assert flag in res.output, flag
    res = CliRunner().invoke(cmd, ["--name", "n", "--tasks", "a,b", "--files", "x", "--files", "y", "--no-flag",
                                   "--inner", "lr=0.5", "--inner", "steps=4"])
    assert res.exit_code == 0, res.output
    assert seen == {"name": "n", "tasks": "a,b", "files": ("x", "y"), "flag": False,
                    "inner": {"lr": 0.5, "steps": 4}}
    assert from_mapping(Cfg, seen).tasks == ("a", "b")
    res = CliRunner().invoke(cmd, ["--inner", "lr"])
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.output


def test_json_hand_off_round_trips(tmp_path):
    cfg = Cfg(name="n", tasks=("a",), limit=3, inner={"lr": 0.1})
    assert read_json(Cfg, write_json(cfg, tmp_path / "c.json")) == cfg
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="Expected a test config JSON file at"):
        read_json(Cfg, tmp_path / "bad.json")


def _span(text: str) -> tuple[int, int]:
    a, _, b = text.partition("-")
    if not (a.isdigit() and b.isdigit()):
        raise ConfigError(f"--span expects A-B such as 1-3, found {text!r}.")
    return (int(a), int(b))


@dataclass(frozen=True)
class Flags:
    WHAT: ClassVar[str] = "flags config"

    model: str = field(metadata={"help": "the model"})  # no default: required
    urls: tuple[str, ...] = field(default=("u",), metadata={"help": "urls", "sep": ",", "repeat": True})
    span: tuple[int, int] | None = field(default=None, metadata={"help": "a span A-B", "parse": _span})
    kwargs: tuple[tuple[str, Any], ...] = field(default=(), metadata={"help": "json pairs", "flag": "--kw"})
    names: tuple[tuple[str, str], ...] = field(default=(), metadata={"help": "text pairs"})
    data: str | None = field(default=None, metadata={"help": "a shared flag"})


def test_lists_pairs_parsed_and_shared_flags():
    seen = {}
    shared = click.option("--data", "data", default=None, envvar="OPTIONS_TEST_DATA", help="the shared flag")

    @click.command()
    @click_options(Flags, shared={"data": shared})
    def cmd(**flags):
        seen.update(given(flags))

    res = CliRunner().invoke(cmd, ["--help"])
    assert "--kw KEY=VALUE" in res.output and "the shared flag" in res.output and "[default: u]" in res.output
    assert "[required]" in res.output
    res = CliRunner().invoke(cmd, ["--model", "m", "--urls", "a,b", "--urls", "c", "--span", "1-3", "--kw", "n=5",
                                   "--kw", "max-retries=true", "--kw", "mode=chat", "--names", "q=1"],
                             env={"OPTIONS_TEST_DATA": "/d"})
    assert res.exit_code == 0, res.output
    cfg = from_mapping(Flags, seen)
    assert cfg.urls == ("a", "b", "c") and cfg.span == (1, 3) and cfg.data == "/d"
    assert cfg.kwargs == (("n", 5), ("max_retries", True), ("mode", "chat")) and cfg.names == (("q", "1"),)
    assert from_mapping(Flags, {"model": "m", "kwargs": {"n": 2}, "span": [0, 4]}).kwargs == (("n", 2),)
    res = CliRunner().invoke(cmd, ["--model", "m", "--kw", "oops"])
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.output
    with pytest.raises(ConfigError) as e:
        from_mapping(Flags, {"span": "1:3", "kwargs": ("x",)})
    assert e.value.problems == ["--span expects A-B such as 1-3, found '1:3'",
                                "model: required, found nothing (--model: the model)",
                                "kwargs: expected KEY=VALUE pairs, found ('x',) (a list)"]
    with pytest.raises(ConfigError, match=r"span: expected a list of int, int"):
        from_mapping(Flags, {"model": "m", "span": [1]})


# --- meta-tests: every config of the project, every command -------------------------------------

PACKAGES = ("harness", "synth", "train")


def _config_classes() -> list[type]:
    """Every dataclass named ``*Config`` in the project's packages (found with ``ast``, then imported)."""
    import ast
    import dataclasses
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text())
            names = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Config")]
            if names:
                mod = importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts))
                found += [getattr(mod, n) for n in names if dataclasses.is_dataclass(getattr(mod, n))]
    return found


def _valid_values(cls: type) -> dict[str, Any]:
    """Values for the fields a config requires ("x" for text, ("x",) for lists)."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("required") or (f.default is dataclasses.MISSING
                                          and f.default_factory is dataclasses.MISSING):
            out[f.name] = ("x",) if typing.get_origin(hints[f.name]) is tuple else "x"
    return out


def _bad_value(cls: type, f) -> Any:
    """A value field ``f`` must refuse (out of its range, not one of its choices), or None if unconstrained."""
    import typing

    from harness.options import _kind, _unwrap

    tp, _ = _unwrap(typing.get_type_hints(cls)[f.name])
    m = f.metadata
    if _kind(tp) == "literal":
        return "no-such-choice"
    for key, delta in (("min", -1), ("gt", 0), ("max", 1), ("lt", 0)):
        if key in m:
            return m[key] + delta
    return None


def test_every_config_validates_at_construction_all_problems_at_once():
    """Each project config checks its fields' types, ranges and choices when it is built (not later, by
    hand, in the code that uses it), reporting every bad field in one ConfigError."""
    import dataclasses

    classes = _config_classes()
    names = {c.__name__ for c in classes}
    assert {"EvalConfig", "WeakConfig", "SynthConfig", "CheckConfig", "GradeConfig", "CleanConfig",
            "TrainConfig", "LoopConfig"} <= names, names
    checked = 0
    for cls in classes:
        base = _valid_values(cls)
        cls(**base)  # the required values alone build
        bad = {f.name: v for f in dataclasses.fields(cls) if (v := _bad_value(cls, f)) is not None}
        assert bad, f"{cls.__name__} declares no range or choice"
        for name, value in bad.items():
            with pytest.raises(ConfigError, match=rf"\b{name}: expected"):
                cls(**{**base, name: value})
            checked += 1
        with pytest.raises(ConfigError) as e:  # every problem at once
            cls(**{**base, **bad})
        assert len(getattr(e.value, "problems", [])) >= len(bad), (cls.__name__, e.value)
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
    assert checked > 40


#: Each command whose options a config declares, and the parameters it adds that are not options of a run
#: (input/output paths, presets, progress bars). Other commands take no config: serve (its own flags),
#: tasks, merge, lm-eval-tasks, leaderboard, scaling.
COMMAND_CONFIGS = {
    "eval": ("harness.eval:EvalConfig+harness.judge:JudgeConfig", {"no_progress"}),
    "weak": ("synth.weak:WeakConfig", {"run_dir", "out"}),
    "synth": ("synth.pipeline:SynthConfig", {"plan_path", "out", "no_progress"}),
    "check": ("harness.check:CheckConfig", set()),
    "grade": ("harness.gradefile:GradeConfig+harness.judge:JudgeConfig", set()),
    "clean": ("synth.clean:CleanConfig", {"inputs", "out", "against", "as_json", "no_progress", "data_dir"}),
    "train": ("train.config:TrainConfig", {"preset"}),
    "loop": ("harness.loop:LoopConfig", {"config_path", "preset", "demo_size"}),
}


@pytest.mark.parametrize("command", sorted(COMMAND_CONFIGS))
def test_every_commands_flags_come_from_its_config(command):
    import dataclasses
    import importlib

    from harness.cli import main

    spec, extra = COMMAND_CONFIGS[command]  # "module:Config" or several joined by "+" (flag groups)
    classes = [getattr(importlib.import_module(m), c) for m, c in (part.split(":") for part in spec.split("+"))]
    cmd = main.get_command(click.Context(main), command)
    params = {p.name for p in cmd.params if p.name != "help"}
    declared = {f.name: f for cls in classes for f in dataclasses.fields(cls)}
    fields = set(declared)
    assert fields <= params, f"{command}: fields without a flag: {fields - params}"
    assert params - fields == extra, f"{command}: flags not declared by {spec}: {params - fields - extra}"
    for p in cmd.params:  # the generated flags keep the dataclass's help (shared flags have their own)
        if p.name in fields and p.name not in ("data_dir", "lb_dir"):
            help_ = declared[p.name].metadata["help"]
            assert help_[:30] in (p.help or ""), (command, p.name)


def test_cross_field_rules_run_only_on_fields_in_range():
    """A bug fix: ``check`` ran a config's cross-field rules on well-typed but out-of-range values, so
    ``CleanConfig(bands=0)`` raised ZeroDivisionError (a traceback) instead of the range error."""
    from synth.clean import CleanConfig

    with pytest.raises(ConfigError, match="bands: expected an integer >= 1, found 0"):
        CleanConfig(bands=0)
