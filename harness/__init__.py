"""mathharness: evaluation-first benchmark harness for math reasoning (Skywork-Math method).

The public Python API (reference: docs/python-api.md)::

    from harness import evaluate, grade, grade_batch, load_run, tasks
    from harness import run_loop, synthesize, train

Each name is imported on first use (PEP 562), so ``import harness`` stays light: no torch, no backends.
"""

from harness.version import __version__

#: The public names, served from :mod:`harness.api`.
API = ("evaluate", "grade", "grade_batch", "load_run", "tasks", "run_loop", "synthesize", "train", "EvalRun")

__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API})
