"""The public Python API: ``from harness import evaluate, grade, grade_batch, load_run, tasks``.

Thin wrappers over the stages (each builds the stage's validated config and calls its entry point), so a
script does what the CLI does. Task names resolve through the task registry (:data:`tasks`), so every
registered task, custom ones included, is graded with its own answer rules. Heavy modules (torch, the
backends, synth, train) are imported only when a wrapper runs. Reference: docs/python-api.md.

Names here are stable: ``tests/test_api.py`` checks each one on real data.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.answers import AnswerRules, Grade
from harness.answers import grade as _grade
from harness.data import REGISTRY, TaskRegistry
from harness.records import RESULTS, Sample
from harness.records import load_run as _load_run

if TYPE_CHECKING:
    from harness.backends import Backend

__all__ = ["EvalRun", "evaluate", "grade", "grade_batch", "load_run", "run_loop", "synthesize", "tasks", "train"]

#: The task registry of this process (built-in tasks, group aliases, custom tasks registered at run time):
#: ``tasks.names()``, ``tasks["svamp"]``, ``tasks.register(harness.data.jsonl_task(...))``.
tasks: TaskRegistry = REGISTRY


def _rules(task: str | AnswerRules) -> AnswerRules:
    """A task name (any registered task) or rules as the grader takes them.

    Raises:
        HarnessError: unknown task name (with "did you mean").
    """
    return task if isinstance(task, AnswerRules) else tasks.rules(task)


def grade(output: str, gold: str | Sequence[str], task: str | AnswerRules = "math", mode: str = "strict", *,
          rel_tol: float | None = None) -> Grade:
    """Grade one model output with a registered task's answer rules (:func:`harness.answers.grade`).

    Args:
        output: the model's completion (untrusted).
        gold: the reference answer, or a sequence of alternatives any one of which is accepted.
        task: a registered task name (``svamp`` grades with GSM8K rules, ``minerva_math`` with its
            documented tolerance) or an :class:`~harness.answers.AnswerRules`.
        mode: ``strict`` or ``flexible`` extraction.
        rel_tol: overrides the task's relative numeric tolerance.

    Returns:
        A :class:`~harness.answers.Grade` (``status``: correct, wrong, no_answer, timeout, error).

    Raises:
        HarnessError: unknown task (with "did you mean").

    Examples:
        >>> grade("#### 5", "5", task="svamp").status
        'correct'
    """
    return _grade(output, gold, _rules(task), mode, rel_tol=rel_tol)


def grade_batch(outputs: Sequence[str], golds: Sequence[str | Sequence[str]], task: str | AnswerRules = "math",
                mode: str = "strict", *, workers: int | None = None, timeout_s: float | None = None,
                rel_tol: float | None = None) -> list[Grade]:
    """Grade many outputs, in order, with a registered task's rules (``harness.answers.grade_batch``:
    in-process, or on a pool of ``workers`` processes with a per-item ``timeout_s``).

    Raises:
        HarnessError: unknown task.
    """
    from harness.answers import grade_batch as _batch

    kw: dict[str, Any] = {"workers": workers, "rel_tol": rel_tol}
    if timeout_s is not None:
        kw["timeout_s"] = timeout_s
    return list(_batch(outputs, golds, _rules(task), mode, **kw))


@dataclass(frozen=True)
class EvalRun:
    """A run directory of ``harness eval``, loaded.

    Attributes:
        path: the run directory.
        manifest: ``manifest.json`` (model, tasks and versions, prompt, sampling, engine version, ...).
        samples: every sample as a :class:`~harness.records.Sample` (outputs, extracted answers, verdicts).
        results: ``results.json`` (per task: accuracy with CIs, per cell, statuses), or None when the run
            has not finished.
        n_bad_lines: malformed lines of ``samples.jsonl`` that were skipped (a torn last line).
    """

    path: Path
    manifest: dict[str, Any]
    samples: list[Sample] = field(default_factory=list)
    results: dict[str, Any] | None = None
    n_bad_lines: int = 0

    @property
    def tasks(self) -> list[str]:
        """The tasks that have samples, sorted."""
        return sorted({s.task for s in self.samples})


def load_run(run_dir: str | os.PathLike) -> EvalRun:
    """Load a run directory written by ``harness eval`` (or :func:`evaluate`).

    Raises:
        DataError: not a run directory, a record without task/id/sample_idx, or results.json is not JSON.
    """
    from harness.errors import DataError

    run = _load_run(run_dir)
    results = None
    rpath = run.path / RESULTS
    if rpath.is_file():
        try:
            results = json.loads(rpath.read_text())
        except ValueError as e:
            raise DataError(f"{rpath} is not valid JSON ({e}); re-run `harness eval` into the same "
                            "directory to rewrite it.") from None
    return EvalRun(path=run.path, manifest=run.manifest, samples=list(run.records), results=results,
                   n_bad_lines=run.n_bad_lines)


def evaluate(model: str, tasks: str | Sequence[str] = ("math500",), *, backend_object: Backend | None = None,
             progress: bool = False, **config: Any) -> dict[str, Any]:
    """Evaluate ``model`` on ``tasks`` (:func:`harness.eval.evaluate` with an :class:`~harness.eval.EvalConfig`).

    Args:
        model: checkpoint folder, hub id, or served model name (``backend="openai"``).
        tasks: task names, group aliases or JSONL paths (a list, or one comma-separated string).
        backend_object: an already built backend (an object with the streaming backend protocol, e.g. an
            in-process fake); default: built from the ``backend`` name in ``config`` (``hf``, ``vllm``,
            ``openai``).
        progress: show a progress bar.
        **config: any other :class:`~harness.eval.EvalConfig` field (``limit``, ``n``, ``output_dir``, ...;
            ``backend="vllm"`` picks the backend by name); every bad value is reported at once.

    Returns:
        The results (as ``results.json``) plus ``output_dir`` and this call's ``generation`` counts;
        :func:`load_run` of ``output_dir`` gives the samples.

    Raises:
        ConfigError: bad options, or ``output_dir`` holds a run of another config.
        DataError: missing or malformed task data.
        BackendError: the model cannot be loaded or its server reached.
    """
    from harness.eval import EvalConfig
    from harness.eval import evaluate as _evaluate
    from harness.options import from_mapping

    names = tuple(t.strip() for t in tasks.split(",")) if isinstance(tasks, str) else tuple(tasks)
    cfg = from_mapping(EvalConfig, {**config, "model": model, "tasks": names}, where="harness.evaluate")
    return _evaluate(cfg, backend=backend_object, progress=progress)


def run_loop(config: Any = None, /, **fields: Any) -> dict[str, Any]:
    """Run (or resume) the closed loop (:func:`harness.loop.run_loop`).

    Args:
        config: a :class:`~harness.loop.LoopConfig`, or a mapping of its fields (as in the loop YAML).
        **fields: more fields (over ``config``'s when it is a mapping).

    Returns:
        The loop summary (``loop_summary.json``).
    """
    from harness.loop import LoopConfig, config_from_mapping
    from harness.loop import run_loop as _run_loop

    if isinstance(config, LoopConfig):
        return _run_loop(dataclasses.replace(config, **fields) if fields else config)
    return _run_loop(config_from_mapping({**(config or {}), **fields}, where="harness.run_loop"))


def synthesize(plan: str | os.PathLike, out: str | os.PathLike, **config: Any) -> dict[str, Any]:
    """Make SFT data for a plan's weak cells (:func:`synth.pipeline.run_synth`).

    Args:
        plan: the plan JSON from ``harness weak``.
        out: the SFT JSONL to write (``<out>.report.json`` beside it).
        **config: :class:`~synth.pipeline.SynthConfig` fields (``teacher_backend``, ``k``, ...).

    Returns:
        The synthesis report (counts per step, decontamination).
    """
    from harness.options import from_mapping
    from synth.pipeline import SynthConfig, run_synth

    return run_synth(plan, out, from_mapping(SynthConfig, config, where="harness.synthesize"))


def train(model: str, data: str | os.PathLike | Sequence[str | os.PathLike], output: str | os.PathLike, *,
          preset: str | None = "skywork", nproc: int | None = None, **config: Any) -> dict[str, Any]:
    """Fine-tune ``model`` on SFT data (:func:`train.launch.run`, in child processes).

    Args:
        model: the base checkpoint.
        data: one SFT JSONL, or several: one stage each, trained in order.
        output: the run directory (the final checkpoint).
        preset: a training preset (``train/configs/<name>.yaml``), or None for the defaults.
        nproc: processes on this machine (default: the config's ``nproc``).
        **config: any other :class:`~train.config.TrainConfig` field (``epochs``, ``lr``, ...).

    Returns:
        The training summary (``train_summary.json``).
    """
    from train.config import build_config
    from train.launch import run

    stages = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    cfg = build_config(model=model, data=[str(d) for d in stages], output=str(output), preset=preset,
                       overrides=config)
    return run(cfg, nproc)
