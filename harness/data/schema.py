"""The record every task loader yields: :class:`Problem`.

Also the small row helpers the loaders share (field lookup with a clear error, hub download).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
