"""Result types of the answer engine."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

Status = Literal["correct", "wrong", "no_answer", "timeout", "error"]
Mode = Literal["strict", "flexible"]
STATUSES: tuple[Status, ...] = ("correct", "wrong", "no_answer", "timeout", "error")


class AnswerTimeout(Exception):
    """A parse or comparison ran past its budget. Its own type, so a broad ``except`` in the
    engine cannot turn it into "wrong" by accident; :func:`harness.answers.grade` turns it into
    ``status == "timeout"``."""


@dataclass(frozen=True)
class Grade:
    """The verdict on one model output.

    Attributes:
        correct: the extracted answer equals (one of) the gold answer(s).
        extracted: the final answer found in the output, or None.
        status: "correct", "wrong", "no_answer" (nothing extracted), "timeout" (past the budget or
            too large to decide) or "error" (an internal exception while grading: a bug, counted,
            never turned into "wrong").
    """

    correct: bool
    extracted: str | None
    status: Status

    def to_dict(self) -> dict:
        return {"correct": self.correct, "extracted": self.extracted, "status": self.status}


class Budget:
    """A wall-clock budget shared by one grading call (no signals: safe in threads).

    Code that can take long calls :meth:`check` in its loops; past the deadline it raises
    :class:`AnswerTimeout`.
    """

    __slots__ = ("deadline", "seconds")

    def __init__(self, seconds: float = 0.5) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise AnswerTimeout(f"answer comparison exceeded {self.seconds:.2f}s")

    def left(self) -> float:
        return self.deadline - time.monotonic()
