"""The records every task loader yields: :class:`Problem`, and :class:`TaskSpec` describing a task.

Also the small row helpers the loaders share (field lookup with a clear error, hub download).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError

Gold = str | tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    ``answer`` is a string, or a tuple of alternative answers any one of which is accepted
    (e.g. "enter one of the foci"). A problem asking for *all* solutions has a single string
    gold listing them (``"-2, 1"``) and is graded as an unordered list.
    """

    id: str
    question: str
    answer: Gold
    solution: str = ""
    subject: str | None = None
    level: int | None = None
    task: str = ""
    meta: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "question": self.question,
            "answer": list(self.answer) if isinstance(self.answer, tuple) else self.answer,
            "solution": self.solution,
            "subject": self.subject,
            "level": self.level,
            "task": self.task,
        }


@dataclass(frozen=True)
class TaskSpec:
    """A registered benchmark.

    ``version`` changes whenever anything that can move scores changes (data, gold fixes);
    see CHANGELOG.md.
    """

    name: str
    version: str
    answer_task: str  # which extraction rules harness.answers uses: "gsm8k" or "math"
    splits: Mapping[str, int]  # split -> expected row count (0: unknown)
    description: str
    local_path: Callable[[Path, str], Path]
    parse_row: Callable[[dict, str, str, int], Problem]
    hub: Callable[[str], list[dict]] | None = None
    #: the Hugging Face hub dataset the loader falls back to (named in errors and `harness tasks`)
    hub_id: str | None = None
    #: the task's documented numeric tolerance (relative), from the benchmark's own evaluator; None:
    #: its protocol compares exactly. Exact stays the headline rule; see README "Grading rules".
    rel_tol: float | None = None


def need(row: dict, keys: Sequence[str], where: str) -> None:
    missing = [k for k in keys if k not in row or row[k] is None]
    if missing:
        raise DataError(
            f"{where}: expected fields {', '.join(keys)}, missing {', '.join(missing)}; "
            f"found fields {', '.join(sorted(row)) or '(none)'}."
        )


def first(row: dict, keys: Sequence[str], where: str):
    """The first present, non-empty field of ``keys`` (datasets spell fields differently).

    Raises:
        DataError: none of ``keys`` is present (naming the fields found).
    """
    for k in keys:
        if row.get(k) not in (None, ""):
            return row[k]
    raise DataError(
        f"{where}: expected one of the fields {', '.join(keys)}; found fields {', '.join(sorted(row)) or '(none)'}."
    )


def hub_rows(repo: str, config: str | None, split: str) -> list[dict]:
    try:
        import datasets  # type: ignore
    except ImportError as e:
        raise DataError(f"datasets is not installed ({e})") from e
    try:
        ds = datasets.load_dataset(repo, config, split=split) if config else datasets.load_dataset(repo, split=split)
    except Exception as e:
        raise DataError(f"could not load {repo} ({split}) from the Hugging Face hub: {type(e).__name__}: {e}") from e
    return [dict(r) for r in ds]
