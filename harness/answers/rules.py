"""A task's answer rules, as the grader takes them (the grader never imports the task registry).

``harness.data`` owns each task's facts and hands the grader its :class:`AnswerRules`
(``harness.data.answer_rules(name)``); :func:`harness.answers.grade` also takes a family name
(``"math"``, ``"gsm8k"``) or a legacy built-in task name for backward compatibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["math", "gsm8k"]
FAMILIES: tuple[Family, ...] = ("math", "gsm8k")

# Built-in names the engine knows without the registry (kept for callers that pass a task name).
_LEGACY = {"math": "math", "math500": "math", "gsm8k": "gsm8k"}


@dataclass(frozen=True)
class AnswerRules:
    """How final answers of one task are extracted and compared.

    Attributes:
        family: the extraction rules: ``math`` (boxed / "The answer is") or ``gsm8k`` (``#### N``).
        rel_tol: a documented relative numeric tolerance of the benchmark's own evaluator, or None
            (exact, the headline rule).
    """

    family: Family = "math"
    rel_tol: float | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.rel_tol is not None and not (isinstance(self.rel_tol, (int, float)) and self.rel_tol >= 0):
            raise ValueError(f"rel_tol must be a number >= 0 or None, got {self.rel_tol!r}")

    def exact(self) -> AnswerRules:
        """The same rules without the tolerance: the headline (exact) verdict of a task with a ``rel_tol``.

        Examples:
            >>> AnswerRules("math", 1e-5).exact()
            AnswerRules(family='math', rel_tol=None)
        """
        return AnswerRules(self.family)


def as_rules(task: str | AnswerRules, rel_tol: float | None = None) -> AnswerRules:
    """The rules for ``task`` (an :class:`AnswerRules`, a family or a legacy built-in name; other
    names use MATH rules); an explicit ``rel_tol`` overrides the rules' own."""
    if isinstance(task, AnswerRules):
        rules = task
    else:
        rules = AnswerRules(_LEGACY.get(task, "math"))  # type: ignore[arg-type]
    if rel_tol is not None:
        rules = AnswerRules(rules.family, rel_tol)
    return rules
