"""Benchmarks as data: the task registry and loaders.

Every task yields :class:`Problem` records with ``id``, ``question``, ``answer`` (the final
reference answer; a tuple when several alternative answers are each accepted), ``solution``,
``subject`` and ``level``.

Sources, in order: ``data_dir`` argument, ``$HARNESS_DATA_DIR`` (both in the layout of
``../shared/data``: ``gsm8k/{train,test}.jsonl``, ``math/{train,test,math500}.jsonl``,
``<task>/test.jsonl`` for aime24, aime25, amc23, minerva_math, olympiadbench, svamp), then the
Hugging Face hub through ``datasets`` when online (each task records its hub id). A missing source
raises one :class:`~harness.errors.DataError` naming every place it looked and how to fix it.
A relative data folder is resolved to an absolute path once, where it is read (and written back to
``$HARNESS_DATA_DIR``), so subprocesses started in another directory find the same data.

Group aliases (``reasoning``, ``classic``) name several tasks; :func:`expand_tasks` expands them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.answers.rules import AnswerRules
from harness.data.schema import Gold, Problem, TaskSpec, hub_rows
from harness.data.sets import (
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
from harness.errors import DataError, HarnessError, did_you_mean
from harness.io import iter_jsonl

__all__ = [
    "EVAL_ONLY_TASKS",
    "GROUPS",
    "MATH_SUBJECTS",
    "MULTI_ANSWER_OVERRIDES",
    "TASKS",
    "Gold",
    "Problem",
    "TaskSpec",
    "data_dir",
    "expand_tasks",
    "get_task",
    "gsm8k_final_answer",
    "hub_rows",
    "integer_gold",
    "load_task",
    "math_gold",
    "olympiadbench_gold",
    "problem_from_row",
    "register_jsonl_task",
    "registered_test_sets",
    "require_data_dir",
    "task_names",
]

# Custom tasks registered at run time (register_jsonl_task).
_CUSTOM: dict[str, TaskSpec] = {}


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local data directory as an absolute path: the explicit argument, else ``$HARNESS_DATA_DIR``.

    Users type relative paths (``HARNESS_DATA_DIR=../shared/data``, ``--data-dir ../x``); they are
    resolved here, once, against the current directory. A relative ``$HARNESS_DATA_DIR`` is written
    back as absolute, so subprocesses started in another directory read the same folder.

    Returns:
        The absolute folder, or None when neither is set.
    """
    env = os.environ.get("HARNESS_DATA_DIR")
    d = explicit or env
    if not d:
        return None
    path = Path(os.path.abspath(Path(d).expanduser()))  # also folds "a/../b"
    if env and not explicit and env != str(path):
        os.environ["HARNESS_DATA_DIR"] = str(path)
    return path


def require_data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """:func:`data_dir`, but a folder that was named and does not exist is an error.

    Raises:
        DataError: the named folder is missing (saying where it was looked for and how to fix it).
    """
    d = data_dir(explicit)
    if d is not None and not d.is_dir():
        src = "--data-dir / HARNESS_DATA_DIR" if explicit else "HARNESS_DATA_DIR"
        raise DataError(f"Expected a benchmark data folder at {d} ({src}), found nothing there. "
                        "Fix: point it at a folder laid out like ../shared/data (gsm8k/test.jsonl, ...).")
    return d


def task_names() -> list[str]:
    return sorted({**TASKS, **_CUSTOM})


def registered_test_sets() -> list[tuple[str, str]]:
    """``(task, "test")`` for every built-in task: what decontamination checks synthetic data against.

    Examples:
        >>> ("aime24", "test") in registered_test_sets() and ("svamp", "test") in registered_test_sets()
        True
    """
    return [(name, "test") for name in sorted(TASKS) if "test" in TASKS[name].splits]


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
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in (x.strip() for x in items):
        for t in GROUPS.get(item, (item,)) if item not in _CUSTOM else (item,):
            if t and t not in out:
                out.append(t)
    return out


def get_task(name: str) -> TaskSpec:
    """Look up a registered task, with "did you mean" on a miss."""
    spec = _CUSTOM.get(name) or TASKS.get(name)
    if spec is None:
        if name in GROUPS:
            members = ",".join(GROUPS[name])
            raise HarnessError(f"{name!r} is a group of tasks, not one task: pass --tasks {members} "
                               "(callers expand groups with harness.data.expand_tasks).")
        raise HarnessError(did_you_mean(name, [*task_names(), *GROUPS], "task"))
    return spec


def answer_rules(task: str) -> AnswerRules:
    """The answer rules of a registered task (built-in or custom), as the grader takes them.

    Raises:
        HarnessError: unknown task (with "did you mean").
    """
    spec = get_task(task)
    return AnswerRules(spec.answer_task, spec.rel_tol)  # type: ignore[arg-type]


def register_jsonl_task(
    name: str,
    path: str | os.PathLike,
    *,
    fields: Mapping[str, str] | None = None,
    answer_task: str = "math",
    version: str = "custom",
    split: str = "test",
) -> TaskSpec:
    """Register a task from any JSONL file.

    Args:
        name: the task name used by ``load_task`` and ``--tasks``.
        path: the JSONL file.
        fields: mapping from our field names (``id``, ``question``, ``answer``, ``solution``,
            ``subject``, ``level``) to the file's field names; unmapped fields use our names.
        answer_task: extraction rules, "math" (boxed) or "gsm8k" (#### / "The answer is").
        version: recorded in run manifests.

    Examples:
        >>> register_jsonl_task("mine", "probs.jsonl", fields={"question": "prompt", "answer": "target"})  # doctest: +SKIP
    """
    fmap = {k: k for k in ("id", "question", "answer", "solution", "subject", "level")}
    unknown = set(fields or {}) - set(fmap)
    if unknown:
        raise DataError(f"Unknown field mapping keys {sorted(unknown)}; expected some of {sorted(fmap)}.")
    fmap.update(fields or {})
    src = Path(path)

    def parse(row: dict, task: str, sp: str, idx: int) -> Problem:
        missing = [ours for ours in ("question", "answer") if row.get(fmap[ours]) is None]
        if missing:
            hint = " ".join(f"--field {m}=THEIR_NAME" for m in missing)
            raise DataError(
                f"expected fields {', '.join(repr(fmap[m]) for m in missing)} (our {', '.join(missing)}); "
                f"found fields {', '.join(sorted(row)) or '(none)'}. If the file names them differently, map "
                f"them: {hint} (EvalConfig.fields / register_jsonl_task(fields=...))."
            )
        ans = row[fmap["answer"]]
        gold: Gold = tuple(str(a) for a in ans) if isinstance(ans, list) else str(ans)
        lvl = row.get(fmap["level"])
        return Problem(
            id=str(row.get(fmap["id"], f"{sp}/{idx}")),
            question=str(row[fmap["question"]]),
            answer=gold,
            solution=str(row.get(fmap["solution"], "") or ""),
            subject=row.get(fmap["subject"]),
            level=int(lvl) if isinstance(lvl, (int, float, str)) and str(lvl).isdigit() else None,
            task=task,
        )

    spec = TaskSpec(
        name=name,
        version=version,
        answer_task=answer_task,
        splits={split: 0},
        description=f"custom JSONL task from {src}",
        local_path=lambda d, s: src,
        parse_row=parse,
        hub=None,
    )
    _CUSTOM[name] = spec
    return spec


def _read_local(path: Path) -> tuple[list[dict], list[int]]:
    """Rows of a local JSONL file and the file line number of each (blank lines are skipped)."""
    linenos: list[int] = []
    rows = list(iter_jsonl(path, linenos=linenos))
    return rows, linenos


def load_task(
    name: str,
    split: str = "test",
    *,
    data_dir_: str | os.PathLike | None = None,
    allow_hub: bool | None = None,
) -> list[Problem]:
    """Load a task's problems.

    Args:
        name: a registered task (``gsm8k``, ``math``, ``math500``, ``aime24``, ... or a custom one).
        split: ``test`` or ``train``.
        data_dir_: local data directory (else ``$HARNESS_DATA_DIR``); relative paths are resolved.
        allow_hub: try the HF hub when no local file exists (default: unless ``HF_HUB_OFFLINE=1``).

    Raises:
        DataError: no source has the data (naming every place looked), a row misses a field
            (with file:line), or a line is not JSON or not UTF-8.
    """
    spec = get_task(name)
    if split not in spec.splits:
        raise DataError(f"Task {name!r} has no split {split!r}; available: {', '.join(spec.splits)}.")
    ddir = data_dir(data_dir_)
    looked: list[str] = []
    rows: list[dict] | None = None
    linenos: list[int] = []
    path: Path | None = None
    if spec.name in _CUSTOM:
        path = spec.local_path(Path("."), split)
        rows, linenos = _read_local(path)
    elif ddir is not None:
        path = spec.local_path(ddir, split)
        looked.append(f"{path} (not found)")
        if path.is_file():
            rows, linenos = _read_local(path)
    else:
        looked.append("no local folder (--data-dir / HARNESS_DATA_DIR unset)")
    if rows is None:
        path = None
        hub_name = f"HF hub {spec.hub_id}" if spec.hub_id else "HF hub"
        if allow_hub is None:
            allow_hub = os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True")
        if spec.hub is None:
            looked.append("HF hub (no hub dataset for this task)")
        elif allow_hub:
            try:
                rows = spec.hub(split)
            except DataError as e:
                looked.append(f"{hub_name} ({e})")
        else:
            looked.append(f"{hub_name} (offline: HF_HUB_OFFLINE=1)")
    if rows is None:
        raise DataError(
            f"No data for task {name!r} split {split!r}. Looked in: {'; '.join(looked)}. "
            f"Fix: pass --data-dir DIR or set HARNESS_DATA_DIR to a folder laid out like ../shared/data "
            f"(gsm8k/test.jsonl, math/test.jsonl, {name}/...), or go online for the HF hub."
        )
    problems = []
    for i, r in enumerate(rows):
        try:
            problems.append(spec.parse_row(r, spec.name, split, i))
        except DataError as e:
            if path is None:
                raise
            raise DataError(f"{path}:{linenos[i]}: {e}") from None
    if not problems:
        raise DataError(f"Task {name!r} split {split!r} has no problems (empty file?).")
    return problems


def problem_from_row(task: str, row: dict, split: str = "test", idx: int = 0) -> Problem:
    """One raw row of a registered task's data file as a :class:`Problem` (gold as the protocol defines it).

    Used by the lm-eval hooks, which receive raw rows.
    """
    spec = get_task(task)
    return spec.parse_row(row, spec.name, split, idx)


data_dir()  # a relative HARNESS_DATA_DIR becomes absolute now, for every subprocess started later
