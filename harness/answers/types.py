"""Result types of the answer engine, and its work budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Status = Literal["correct", "wrong", "no_answer", "timeout", "error"]
Mode = Literal["strict", "flexible"]
STATUSES: tuple[Status, ...] = ("correct", "wrong", "no_answer", "timeout", "error")

#: Work steps one grading call may spend (see :class:`Budget` and docs/grading-budget.md). One step is
#: about 10 microseconds of this engine's work on a 2024 x86 core; the hostile corpus of
#: benchmarks/grading_budget.py stays within 0.5 s at this budget.
DEFAULT_STEPS = 30_000
#: The last-resort backstop: CPU seconds of the grading thread, far above what DEFAULT_STEPS costs.
BACKSTOP_S = 5.0
#: Steps between two reads of the thread's CPU clock (the backstop is checked this often).
_CLOCK_EVERY = 256

#: A callback that charges a number of work steps (``Budget.check``); it raises past the budget.
Charge = Callable[[int], None]


class AnswerTimeout(Exception):
    """A parse or comparison ran past its budget, or a value is too large to decide. Its own type,
    so a broad ``except`` in the engine cannot turn it into "wrong" by accident;
    :func:`harness.answers.grade` turns it into ``status == "timeout"``."""


class BackstopTimeout(AnswerTimeout):
    """The CPU-time backstop fired before the work budget did: some work is not counted in steps
    (a bug to report). Still a ``timeout`` status, flagged as ``Grade.backstop``."""


@dataclass(frozen=True)
class Grade:
    """The verdict on one model output.

    Attributes:
        correct: the extracted answer equals (one of) the gold answer(s).
        extracted: the final answer found in the output, or None.
        status: "correct", "wrong", "no_answer" (nothing extracted), "timeout" (past the work budget
            or too large to decide) or "error" (an internal exception while grading: a bug, counted,
            never turned into "wrong").
        backstop: the timeout came from the CPU-time backstop, not from the work budget: the only
            verdict that can depend on machine speed (never seen on the test corpora; counted in
            results.json as ``grading_backstop`` so a run shows it).
    """

    correct: bool
    extracted: str | None
    status: Status
    backstop: bool = False

    def to_dict(self) -> dict:
        return {"correct": self.correct, "extracted": self.extracted, "status": self.status,
                "backstop": self.backstop}


class Budget:
    """A deterministic work budget shared by one grading call (no clock, no signals: the same input
    spends the same steps in any thread, under any load).

    Code that can take long charges its work with :meth:`check` (one step, or ``n`` steps for an
    expensive operation: big-number arithmetic by digit count, high-precision functions by precision,
    see :mod:`harness.answers.values`); past ``steps`` it raises :class:`AnswerTimeout`. Pass
    ``budget.check`` as the callback where a helper takes one.

    A backstop reads the thread's CPU time every few hundred steps and raises
    :class:`BackstopTimeout` past ``backstop_s`` (work that is not counted; never expected). A Budget
    belongs to one thread.

    Args:
        steps: work steps allowed (:data:`DEFAULT_STEPS`).
        backstop_s: CPU seconds of this thread after which the backstop fires (:data:`BACKSTOP_S`).

    Raises:
        TypeError: ``steps`` is not an int (before engine 1.3 the argument was wall-clock seconds).
    """

    __slots__ = ("steps", "used", "backstop_s", "backstop", "_deadline", "_next_clock")

    def __init__(self, steps: int = DEFAULT_STEPS, *, backstop_s: float = BACKSTOP_S) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int):
            raise TypeError(f"Budget(steps) expects a whole number of work steps (default {DEFAULT_STEPS}), "
                            f"found {steps!r}; since engine 1.3 the budget counts work, not seconds")
        self.steps = steps
        self.used = 0
        self.backstop_s = backstop_s
        self.backstop = False
        self._deadline = time.thread_time() + backstop_s
        self._next_clock = 0

    def check(self, n: int = 1) -> None:
        """Charge ``n`` work steps; raise :class:`AnswerTimeout` past the budget."""
        self.used += n
        if self.used > self.steps:
            raise AnswerTimeout(f"answer comparison exceeded its work budget of {self.steps:,} steps")
        if self.used >= self._next_clock:
            self._next_clock = self.used + _CLOCK_EVERY
            if time.thread_time() > self._deadline:
                self.backstop = True
                raise BackstopTimeout(f"answer comparison ran past the {self.backstop_s:g} s CPU backstop "
                                      f"after {self.used:,} counted steps")

    charge = check

    def left(self) -> int:
        """Steps left."""
        return self.steps - self.used
