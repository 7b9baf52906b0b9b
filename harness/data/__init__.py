"""Benchmarks as data: one :class:`Task` per benchmark, the task registry and the loaders.

Every task yields :class:`Problem` records with ``id``, ``question``, ``answer`` (the final
reference answer; a tuple when several alternative answers are each accepted), ``solution``,
``subject`` and ``level``. A :class:`Task` owns every fact about its benchmark: data sources and
splits, answer rules (:class:`~harness.answers.AnswerRules`), default prompt, evaluation-only flag,
synthesis stand-in (:class:`SeedSource`) and lm-eval export.

Sources, in order: ``data_dir`` argument, ``$HARNESS_DATA_DIR`` (both in the layout of
``../shared/data``: ``gsm8k/{train,test}.jsonl``, ``math/{train,test,math500}.jsonl``,
``<task>/test.jsonl`` for aime24, aime25, amc23, minerva_math, olympiadbench, svamp), then the
Hugging Face hub through ``datasets`` when online (each task records its hub id). One rule for a missing
folder (:func:`require_data_dir`): a data folder that was named but does not exist is an error at once,
everywhere, never a fall-back to the hub. A missing source raises one :class:`~harness.errors.DataError`
naming every place it looked, why the hub was not tried, and how to get the data.
A relative data folder is resolved to an absolute path once, where it is read (and written back to
``$HARNESS_DATA_DIR``), so subprocesses started in another directory find the same data.

:data:`REGISTRY` (a :class:`TaskRegistry`; ``harness.tasks`` in the public API) holds the built-in
tasks, the group aliases (``reasoning``, ``classic``; :func:`expand_tasks`) and custom tasks
registered at run time (:func:`register_jsonl_task`). The functions below read it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from harness.answers.rules import AnswerRules
from harness.data.registry import TaskRegistry
from harness.data.schema import Gold, Problem, hub_rows
from harness.data.sets import (
    BUILTIN_TASKS,
    EVAL_ONLY_TASKS,
    GROUPS,
    MATH_SUBJECTS,
    MULTI_ANSWER_OVERRIDES,
    TASKS,
    gsm8k_final_answer,
    integer_gold,
    math_gold,
    olympiadbench_gold,
)
from harness.data.task import (
    DATA_LAYOUT,
    DEFAULT_PROMPT,
    SeedSource,
    Task,
    TaskSpec,
    data_dir,
    jsonl_task,
    require_data_dir,
)

__all__ = [
    "DATA_LAYOUT",
    "DEFAULT_PROMPT",
    "EVAL_ONLY_TASKS",
    "GROUPS",
    "MATH_SUBJECTS",
    "MULTI_ANSWER_OVERRIDES",
    "REGISTRY",
    "TASKS",
    "Gold",
    "Problem",
    "SeedSource",
    "Task",
    "TaskRegistry",
    "TaskSpec",
    "answer_rules",
    "data_dir",
    "expand_tasks",
    "get_task",
    "gsm8k_final_answer",
    "hub_rows",
    "integer_gold",
    "jsonl_task",
    "load_task",
    "math_gold",
    "olympiadbench_gold",
    "problem_from_row",
    "register_jsonl_task",
    "registered_test_sets",
    "require_data_dir",
    "task_help",
    "task_names",
]

#: The registry of this process: the built-in tasks and groups, plus custom tasks registered at run time.
REGISTRY = TaskRegistry(BUILTIN_TASKS, GROUPS)


def task_names() -> list[str]:
    """Every registered task name, sorted (built-in and custom)."""
    return REGISTRY.names()


def task_help() -> str:
    """The registered task names and group aliases, for help texts (the one source of that list).

    Examples:
        >>> task_help()
        'aime24, aime25, amc23, gsm8k, math, math500, minerva_math, olympiadbench, svamp; groups: classic, reasoning'
    """
    return REGISTRY.help()


def registered_test_sets() -> list[tuple[str, str]]:
    """``(task, "test")`` for every built-in task: what decontamination checks synthetic data against.

    Examples:
        >>> ("aime24", "test") in registered_test_sets() and ("svamp", "test") in registered_test_sets()
        True
    """
    return [(name, "test") for name in REGISTRY.builtin_names() if "test" in REGISTRY[name].splits]


def expand_tasks(names: str | Sequence[str]) -> list[str]:
    """Expand group aliases (:data:`GROUPS`) in a task list; keep order, drop repeats.

    Args:
        names: task names, aliases or JSONL paths (a comma-separated string is split).

    Returns:
        The task list with each alias replaced by its members; other items unchanged.

    Examples:
        >>> expand_tasks("classic,gsm8k")
        ['gsm8k', 'math500', 'svamp']
    """
    return REGISTRY.expand(names)


def get_task(name: str) -> Task:
    """Look up a registered task, with "did you mean" on a miss."""
    return REGISTRY.get(name)


def answer_rules(task: str) -> AnswerRules:
    """The answer rules of a registered task (built-in or custom), as the grader takes them.

    Examples:
        >>> answer_rules("svamp")
        AnswerRules(family='gsm8k', rel_tol=None)

    Raises:
        HarnessError: unknown task (with "did you mean").
    """
    return REGISTRY.rules(task)


def register_jsonl_task(
    name: str,
    path: str | os.PathLike,
    *,
    fields: Mapping[str, str] | None = None,
    answer_task: str = "math",
    rel_tol: float | None = None,
    version: str = "custom",
    split: str = "test",
) -> Task:
    """Register a task from any JSONL file in :data:`REGISTRY` (:func:`jsonl_task` builds it).

    Args:
        name: the task name used by ``load_task`` and ``--tasks``.
        path: the JSONL file.
        fields: mapping from our field names (``id``, ``question``, ``answer``, ``solution``,
            ``subject``, ``level``) to the file's field names; unmapped fields use our names.
        answer_task: extraction rules, "math" (boxed) or "gsm8k" (#### / "The answer is").
        rel_tol: relative numeric tolerance of the task's protocol (None: exact).
        version: recorded in run manifests.

    Examples:
        >>> register_jsonl_task("mine", "probs.jsonl", fields={"question": "prompt", "answer": "target"})  # doctest: +SKIP
    """
    return REGISTRY.register(jsonl_task(name, path, fields=fields, answer_task=answer_task, rel_tol=rel_tol,
                                        version=version, split=split))


def load_task(
    name: str,
    split: str = "test",
    *,
    data_dir_: str | os.PathLike | None = None,
    allow_hub: bool | None = None,
) -> list[Problem]:
    """Load a task's problems (:meth:`Task.load` of a registered task).

    Args:
        name: a registered task (``gsm8k``, ``math``, ``math500``, ``aime24``, ... or a custom one).
        split: ``test`` or ``train``.
        data_dir_: local data directory (else ``$HARNESS_DATA_DIR``); relative paths are resolved.
        allow_hub: False: never try the HF hub (default: try it when no local file exists, unless the
            environment switches it off).

    Raises:
        DataError: no source has the data (naming every place looked), a row misses a field
            (with file:line), or a line is not JSON or not UTF-8.
    """
    return REGISTRY.load(name, split, data_dir_=data_dir_, allow_hub=allow_hub)


def problem_from_row(task: str, row: dict, split: str = "test", idx: int = 0) -> Problem:
    """One raw row of a registered task's data file as a :class:`Problem` (gold as the protocol defines it).

    Used by the lm-eval hooks, which receive raw rows.
    """
    return REGISTRY.get(task).problem(row, split, idx)


data_dir()  # a relative HARNESS_DATA_DIR becomes absolute now, for every subprocess started later
