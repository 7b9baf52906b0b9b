"""Each option declared once: a frozen config dataclass is the source of its CLI flags, YAML keys,
validation and the JSON file a config travels in to another process.

A field's type annotation gives its type check (``int``, ``float``, ``bool``, ``str``, ``Literal[...]``,
``tuple[str, ...]``, ``X | None``, ``dict[str, Any]``); its ``metadata`` gives the rest:

- ``help``: the one documentation of the option (CLI help);
- ``min`` / ``max`` (inclusive), ``gt`` / ``lt`` (exclusive): the allowed range of a number;
- ``nonfinite``: a ``float`` field also takes ``inf`` and ``nan`` (refused unless declared);
- ``required``: a value is needed (an empty default is not enough);
- ``sep``: a ``tuple[str, ...]`` field also accepts one string of items joined by ``sep`` (``--tasks a,b``);
- ``repeat``: with ``sep``, the flag may also be repeated (``--base-url a,b --base-url c``);
- ``options_of``: a ``dict`` field holds options of another config class, set as ``--NAME KEY=VALUE``;
- ``flag``: the flag's name when it is not ``--field-name`` (``--backend-arg`` for ``backend_kwargs``);
- ``parse``: a function reading the flag's text into the value (``"0/4"`` -> ``(0, 4)``), raising
  :class:`~harness.errors.ConfigError` on bad text.

A ``tuple[tuple[str, X], ...]`` field is a list of ``KEY=VALUE`` pairs (repeatable flag; a YAML mapping);
values are kept as text when ``X`` is ``str``, else read as JSON when they parse (``5``, ``true``).

Every problem is reported at once, in one :class:`~harness.errors.ConfigError`: each names the key,
what was found and what was expected (torchtune's ``ConfigError`` style, on one line).

Examples:
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class C:
    ...     rounds: int = field(default=2, metadata={"help": "rounds", "min": 1})
    >>> problems(C, {"rounds": "three"})
    ["rounds: expected an integer >= 1, found 'three' (a string)"]
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import operator
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from harness.errors import ConfigError, did_you_mean

T = TypeVar("T")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """``(the type without None, whether None is allowed)``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return functools.reduce(operator.or_, args), len(args) < len(typing.get_args(tp))
    return tp, False


def _kind(tp: Any) -> str:
    """One of bool, int, float, str, literal, tuple (of strings), pairs (of key, value), fixed (a tuple of a
    fixed length, e.g. ``tuple[int, int]``), dict."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "literal"
    if origin is tuple or tp is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis and typing.get_origin(args[0]) is tuple:
            return "pairs"
        if args and Ellipsis not in args:
            return "fixed"
        return "tuple"
    if origin in (dict, Mapping) or tp is dict:
        return "dict"
    if tp in (bool, int, float, str):
        return tp.__name__
    raise TypeError(f"harness.options: unsupported field type {tp!r}")  # a bug in a config class


def _range_text(meta: Mapping) -> str:
    lo = (">=", meta["min"]) if "min" in meta else (">", meta["gt"]) if "gt" in meta else None
    hi = ("<=", meta["max"]) if "max" in meta else ("<", meta["lt"]) if "lt" in meta else None
    if lo and hi:
        return f" in {'[' if lo[0] == '>=' else '('}{lo[1]}, {hi[1]}{']' if hi[0] == '<=' else ')'}"
    if lo or hi:
        op, v = lo or hi  # type: ignore[misc]
        return f" {op} {v}"
    return ""


def expected(cls: type, name: str) -> str:
    """What field ``name`` of ``cls`` accepts, in words ("an integer >= 1", "one of strict, flexible")."""
    tp, optional = _unwrap(_hints(cls)[name])
    meta = _fields(cls)[name].metadata
    kind = _kind(tp)
    if kind == "literal":
        text = "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    elif kind == "tuple":
        text = "a list of strings" + (f" (or one {meta['sep']!r}-separated string)" if "sep" in meta else "")
    elif kind in ("dict", "pairs"):
        text = "a mapping of option: value" if kind == "dict" else "KEY=VALUE pairs"
    elif kind == "fixed":
        text = "a list of " + ", ".join(a.__name__ for a in typing.get_args(tp))
    else:
        text = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string"}[kind]
        text += _range_text(meta)
    return text + (" or null" if optional else "")


def _describe(v: Any) -> str:
    what = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
            tuple: "a list", dict: "a mapping", type(None): "nothing"}.get(type(v), type(v).__name__)
    return f"{v!r} ({what})" if v is not None else "nothing"


def _type_ok(kind: str, tp: Any, v: Any) -> bool:
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "str":
        return isinstance(v, str)
    if kind == "literal":
        return v in typing.get_args(tp)
    if kind == "tuple":
        return isinstance(v, tuple) and all(isinstance(x, str) for x in v)
    if kind == "pairs":
        return isinstance(v, tuple) and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str)
                                            for x in v)
    if kind == "fixed":
        args = typing.get_args(tp)
        return isinstance(v, tuple) and len(v) == len(args) and all(
            isinstance(x, a) and not (isinstance(x, bool) and a is not bool) for x, a in zip(v, args))
    return isinstance(v, Mapping)


def _well_typed(cls: type, name: str, v: Any) -> bool:
    """Whether ``v`` has the field's type (a mapping of another config's options: each of them too)."""
    tp, optional = _unwrap(_hints(cls)[name])
    if (v is None and optional) or not _type_ok(_kind(tp), tp, v):
        return v is None and optional
    inner = _fields(cls)[name].metadata.get("options_of")
    return inner is None or not problems(inner(), v)


def _in_range(meta: Mapping, v: float) -> bool:
    if not (meta.get("nonfinite") or math.isfinite(v)):  # inf/nan pass every comparison above or none
        return False
    return not (("min" in meta and v < meta["min"]) or ("max" in meta and v > meta["max"])
                or ("gt" in meta and v <= meta["gt"]) or ("lt" in meta and v >= meta["lt"]))


def coerce(cls: type, name: str, v: Any) -> Any:
    """The value as the field holds it (a list becomes a tuple, an int a float for float fields, a
    ``sep``-joined string a tuple); values of the wrong type are returned unchanged for :func:`problems`."""
    tp, _ = _unwrap(_hints(cls)[name])
    kind = _kind(tp)
    meta = _fields(cls)[name].metadata
    if kind == "float" and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if "parse" in meta and isinstance(v, str):
        return meta["parse"](v)
    if kind == "tuple":
        if isinstance(v, str):
            parts = v.split(meta["sep"]) if "sep" in meta else [v]
            return tuple(p.strip() for p in parts if p.strip())
        if isinstance(v, (list, tuple)) and meta.get("repeat") and all(isinstance(x, str) for x in v):
            return tuple(p.strip() for x in v for p in x.split(meta["sep"]) if p.strip())
        if isinstance(v, list):
            return tuple(v)
    if kind == "pairs":
        return _pairs(tp, v)
    if kind == "fixed" and isinstance(v, list):
        return tuple(v)
    if kind == "dict" and "options_of" in meta and isinstance(v, Mapping):
        inner = meta["options_of"]()
        keyed = {str(k).replace("-", "_"): x for k, x in v.items()}
        return {k: coerce(inner, k, x) if k in _fields(inner) else x for k, x in keyed.items()}
    return v


def _pairs(tp: Any, v: Any) -> Any:
    """``KEY=VALUE`` texts (or a mapping) as a tuple of ``(key, value)`` pairs (keys with ``-`` read as
    ``_``; values read as JSON unless the field holds text); anything else unchanged for :func:`problems`."""
    as_text = typing.get_args(typing.get_args(tp)[0])[1] is str
    if isinstance(v, Mapping):
        items = list(v.items())
    elif isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
        if not all("=" in x and x.split("=", 1)[0].strip() for x in v):
            return v
        items = [tuple(x.split("=", 1)) for x in v]
    else:
        return v

    def value(x: Any) -> Any:
        if as_text or not isinstance(x, str):
            return x
        try:
            return json.loads(x)
        except ValueError:
            return x.strip()

    return tuple((str(k).strip().replace("-", "_"), value(x.strip() if isinstance(x, str) else x)) for k, x in items)


def parse_text(cls: type, name: str, text: str) -> Any:
    """A ``KEY=VALUE`` override's text as field ``name`` expects it (left as text when it does not parse)."""
    tp, optional = _unwrap(_hints(cls)[name])
    kind = _kind(tp)
    if optional and text.lower() in ("none", "null"):
        return None
    try:
        if kind == "bool" and text.lower() in ("true", "false", "yes", "no", "1", "0"):
            return text.lower() in ("true", "yes", "1")
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        pass
    return coerce(cls, name, text)


def problems(cls: type, values: Mapping[str, Any], *, prefix: str = "", required: bool = False) -> list[str]:
    """Every problem of ``values`` (a partial or full mapping of ``cls`` fields), one message each.

    Args:
        cls: the config dataclass.
        values: field name -> value (already :func:`coerce`-d).
        prefix: put before each key in messages (``"train."`` for a nested mapping).
        required: also report ``required`` fields that are missing or empty.
    """
    flds, out = _fields(cls), []
    for key, v in values.items():
        if key not in flds:
            out.append(did_you_mean(f"{prefix}{key}", [prefix + k for k in flds], f"{_what(cls)} key"))
            continue
        tp, optional = _unwrap(_hints(cls)[key])
        kind, meta = _kind(tp), flds[key].metadata
        if v is None and optional:
            continue
        ok = _type_ok(kind, tp, v) and (kind not in ("int", "float") or _in_range(meta, v))
        if ok and kind == "dict" and "options_of" in meta:
            inner = meta["options_of"]()
            out += problems(inner, v, prefix=f"{prefix}{key}.")
            continue
        if not ok:
            hint = ""
            if isinstance(v, str) and kind in ("int", "float") and parse_text(cls, key, v) != v:
                hint = f" (write {v} without quotes)"
            elif isinstance(v, float) and not math.isfinite(v):
                hint = " (a finite number is needed)"
            elif isinstance(v, str) and kind == "literal":
                close = difflib.get_close_matches(v, [str(a) for a in typing.get_args(tp)], n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]!r}?" if close else ""
            out.append(f"{prefix}{key}: expected {expected(cls, key)}, found {_describe(v)}{hint}")
    if required:
        for key, f in flds.items():
            if f.metadata.get("required") and not values.get(key):
                out.append(f"{prefix}{key}: required, found nothing ({_flag(f)}: {f.metadata.get('help', '')})")
    return out


def _flag(fld: dataclasses.Field) -> str:
    """A field's flag: ``--field-name`` unless its ``flag`` metadata names another."""
    return fld.metadata.get("flag") or "--" + fld.name.replace("_", "-")


def _what(cls: type) -> str:
    return getattr(cls, "WHAT", cls.__name__)


def check(obj: Any, extra: Callable[[Any], list[str]] | None = None) -> None:
    """Validate a constructed config (call it from ``__post_init__``): field types and ranges, required
    fields, then the ``extra(obj)`` cross-field rules, all problems at once. A cross-field rule may rely
    on fields already reported bad (``bands=0`` divides): when it raises with such a field present, the
    field's own problem stands for it.

    Raises:
        ConfigError: listing every problem, with ``.problems`` holding them one by one.
    """
    cls = type(obj)
    values = {f: getattr(obj, f) for f in _fields(cls)}
    errs = problems(cls, values, required=True)
    if extra is not None:
        try:
            errs += extra(obj)
        except Exception:  # noqa: BLE001 - only reachable on fields reported above
            if not errs:
                raise
    if errs:
        raise invalid(cls, errs)


def invalid(cls: type, errs: list[str], where: str = "") -> ConfigError:
    """One ConfigError line listing ``errs``; ``.problems`` keeps the list."""
    text = "; ".join(x.rstrip(".") for x in errs)
    e = ConfigError(f"Invalid {_what(cls)}{f' ({where})' if where else ''}: {text}{'' if text.endswith('?') else '.'}")
    e.problems = errs  # type: ignore[attr-defined]
    return e


def from_mapping(cls: type[T], values: Mapping[str, Any], *, where: str = "") -> T:
    """Build a ``cls`` from a YAML/CLI/JSON mapping, reporting unknown keys, wrong types, bad ranges and
    missing required fields all at once.

    Args:
        cls: the config dataclass (its ``__post_init__`` calls :func:`check`).
        values: field name -> value; ``-`` in keys is read as ``_``.
        where: named in the message (the YAML file, "flags").

    Raises:
        ConfigError: every problem in one line.
    """
    vals = {str(k).replace("-", "_"): v for k, v in values.items()}
    flds = _fields(cls)
    errs = [did_you_mean(k, flds, f"{_what(cls)} key") for k in vals if k not in flds]
    known = {}
    for k, v in vals.items():
        if k in flds:
            try:
                known[k] = coerce(cls, k, v)
            except ConfigError as e:
                errs.append(str(e).rstrip("."))
    defaults = {k: f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc,operator]
                for k, f in flds.items()
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    missing = [k for k in flds if k not in defaults and k not in known]  # fields without a default
    errs += [f"{k}: required, found nothing ({_flag(flds[k])}: {flds[k].metadata.get('help', '')})" for k in missing]
    typed = problems(cls, {**defaults, **known}, required=True)
    obj = None
    if not missing and all(_well_typed(cls, k, v) for k, v in known.items()):
        try:  # a class that calls check() reports ``typed`` itself, with its cross-field rules
            obj = cls(**known)
            errs += typed
        except ConfigError as e:
            errs += getattr(e, "problems", [str(e)])
    else:
        errs += typed
    if errs or obj is None:
        raise invalid(cls, errs, where)
    return obj


def check_partial(cls: type, values: Mapping[str, Any], *, where: str = "") -> dict[str, Any]:
    """Coerce and check some fields (no required-field or cross-field checks); return them.

    Raises:
        ConfigError: unknown keys, wrong types, bad ranges, all at once.
    """
    vals = {str(k).replace("-", "_"): v for k, v in values.items()}
    flds = _fields(cls)
    vals = {k: coerce(cls, k, v) if k in flds else v for k, v in vals.items()}
    errs = problems(cls, vals)
    if errs:
        raise invalid(cls, errs, where)
    return vals


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-able dict of a config (tuples as lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Serialize a config for another process (read back with :func:`read_json`)."""
    from harness.io import atomic_write_json

    atomic_write_json(path, to_dict(obj))
    return Path(path)


def read_json(cls: type[T], path: str | os.PathLike) -> T:
    """The config written by :func:`write_json`, validated again.

    Raises:
        ConfigError: unreadable file or invalid config.
    """
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"Expected a {_what(cls)} JSON file at {path}; could not read it ({e}).") from None
    return from_mapping(cls, raw, where=str(path))


# --- YAML -------------------------------------------------------------------------------------


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """PyYAML's safe loader that also reads ``1e-3`` as a number (YAML 1.1 wants ``1.0e-3``)."""

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                       |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                       |\.[0-9_]+(?:[eE][-+][0-9]+)?
                       |[-+]?\.(?:inf|Inf|INF)
                       |\.(?:nan|NaN|NAN))$""", re.VERBOSE),
        list("-+0123456789."),
    )
    return Loader


def load_yaml(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """Read a YAML mapping of options (keys with ``-`` read as ``_``).

    Raises:
        ConfigError: a missing file, invalid YAML, or not a mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Expected a {what} YAML at {p}; it does not exist.")
    try:
        raw = yaml.load(p.read_text(), Loader=_yaml_loader()) or {}  # a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML ({str(e).splitlines()[0]}). Fix the file.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of option: value, found {type(raw).__name__}.")
    return {str(k).replace("-", "_"): v for k, v in raw.items()}


# --- CLI --------------------------------------------------------------------------------------


def click_options(cls: type, *, skip: tuple[str, ...] = (), shown: Mapping[str, Any] | None = None,
                  shared: Mapping[str, Callable] | None = None):
    """A decorator adding one click option per field of ``cls`` (``--field-name``, default None so
    that YAML or preset values apply unless a flag is given).

    Args:
        cls: the config dataclass.
        skip: fields that get no flag.
        shown: defaults to show in help instead of the dataclass defaults (e.g. a preset's values).
        shared: field name -> the click decorator of a flag shared by several commands (``--data-dir``),
            used instead of one generated from the field.
    """
    import click

    def deco(f):
        for fld in reversed(dataclasses.fields(cls)):
            if fld.name in skip:
                continue
            if fld.name in (shared or {}):
                f = shared[fld.name](f)  # type: ignore[index]
                continue
            tp, _ = _unwrap(_hints(cls)[fld.name])
            kind, meta = _kind(tp), fld.metadata
            flag = _flag(fld)
            default = (shown or {}).get(fld.name, fld.default)
            if isinstance(default, tuple) and kind == "tuple":
                default = meta.get("sep", ",").join(default)
            show = "" if default in (None, "", (), dataclasses.MISSING) or kind in ("dict", "pairs") \
                else f" [default: {default}]"
            if meta.get("required") or (fld.default is dataclasses.MISSING
                                        and fld.default_factory is dataclasses.MISSING):
                show = " [required]"
            kw: dict[str, Any] = {"default": None, "help": meta.get("help", "") + show}
            decls = [flag]
            if kind == "bool":
                decls = [f"{flag}/--no-{flag[2:]}"]
            elif kind == "literal":  # checked with the other options (one Error line, "did you mean")
                kw["metavar"] = "[" + "|".join(str(a) for a in typing.get_args(tp)) + "]"
            elif kind == "tuple" and ("sep" not in meta or meta.get("repeat")):
                kw["multiple"] = True
                kw["help"] += " (repeatable)"
            elif kind == "dict":
                kw["multiple"] = True
                kw["metavar"] = "KEY=VALUE"
                kw["callback"] = _key_values(meta["options_of"]) if "options_of" in meta else None
            elif kind == "pairs":
                kw["multiple"] = True
                kw["metavar"] = "KEY=VALUE"
                kw["callback"] = _key_value_texts
            elif kind in ("int", "float"):
                kw["type"] = int if kind == "int" else float
            f = click.option(*decls, fld.name, **kw)(f)
        return f

    return deco


def _key_value_texts(ctx, param, items):
    """Check that each text of a repeatable ``KEY=VALUE`` flag has a key and an ``=``."""
    import click

    for item in items or ():
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise click.BadParameter(f"expected KEY=VALUE, found {item!r}")
    return items


def _key_values(options_of: Callable[[], type]):
    def parse(ctx, param, items):
        if not items:
            return None
        inner, out = options_of(), {}
        for item in _key_value_texts(ctx, param, items):
            key, _, text = item.partition("=")
            key = key.strip().replace("-", "_")
            out[key] = parse_text(inner, key, text) if key in _fields(inner) else text
        return out

    return parse


def given(flags: Mapping[str, Any]) -> dict[str, Any]:
    """The flags the user gave (click passes None, or () for repeatable flags, for the others)."""
    return {k: v for k, v in flags.items() if v is not None and v != ()}
