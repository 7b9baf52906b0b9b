"""Project-wide error types and the "did you mean" helper.

Library code raises :class:`HarnessError` (or a subclass) with a message that says what was
expected, what was found, and how to fix it; the CLI prints it as one ``Error: ...`` line and exits 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HarnessError(Exception):
    """A user-facing error: one line, what was expected, what was found, the fix."""


class ConfigError(HarnessError):
    """A configuration (flags, YAML, run manifest) that cannot be used."""


class DataError(HarnessError):
    """Input data that cannot be used: a missing file, a malformed JSONL line, a missing field."""


class BackendError(HarnessError):
    """A model backend failed: not a checkpoint, server unreachable, missing optional dependency."""


class StorageError(HarnessError):
    """A file could not be written (disk full, quota, read-only folder): the message names the file and
    the free space there; everything written before stays intact and the same command resumes."""


class Interrupted(HarnessError):
    """The user stopped a command (Ctrl-C); the message says how the same command goes on."""

    #: The shell's code for a command stopped by SIGINT (128 + 2).
    exit_code = 130


class UnusableInputError(HarnessError):
    """Inputs that cannot be compared (``harness check`` exits 2 on these)."""

    #: The CLI exits with this code (see ``harness/cli/__init__.py``), so CI can tell
    #: "the gate could not judge" (2) from "the gate failed" (1).
    exit_code = 2


def did_you_mean(name: str, choices: Iterable[str], what: str) -> str:
    """Return an "Unknown X 'name'. Did you mean ...? Available: ..." message."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    msg = f"Unknown {what} {name!r}."
    if close:
        msg += " Did you mean " + " or ".join(repr(c) for c in close) + "?"
    msg += " Available: " + ", ".join(choices) + "."
    return msg


def require(module: str, extra: str):
    """Import an optional dependency or raise a clear error naming the pip extra.

    Examples:
        >>> transformers = require("transformers", "hf")  # doctest: +SKIP
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - exercised when the extra is absent
        raise HarnessError(
            f"{module} is not installed (needed here: {e}). Install it with: pip install 'mathharness[{extra}]'"
        ) from e
