"""Glue: extraction + equivalence -> :class:`Grade`."""

from __future__ import annotations

from collections.abc import Sequence

from harness.answers.equiv import compare
from harness.answers.extract import extract
from harness.answers.types import AnswerTimeout, Budget, Grade

#: Bump on any change that can move a verdict; recorded in every run manifest (see CHANGELOG.md).
ENGINE_VERSION = "1.1"

TASK_FAMILIES = {"math": "math", "math500": "math", "gsm8k": "gsm8k"}
MAX_OUTPUT_CHARS = 200_000
DEFAULT_BUDGET_S = 0.5


def _family(task: str) -> str:
    return TASK_FAMILIES.get(task, "math")


def _golds(gold: str | Sequence[str]) -> list[str]:
    if isinstance(gold, str):
        return [gold]
    golds = [str(g) for g in gold]
    if not golds:
        raise ValueError("gold must be a string or a non-empty sequence of accepted answers")
    return golds


def extract_answer(output: str, task: str, mode: str = "strict") -> str | None:
    """The final answer in a model output, or None.

    Args:
        output: the model's completion.
        task: a task name (``math``, ``math500``, ``gsm8k``) or family; unknown tasks use MATH rules.
        mode: ``strict`` (only explicit final-answer markers the prompts ask for) or ``flexible``
            (adds fallbacks: "Final Answer:", bold markdown, last number).
    """
    if mode not in ("strict", "flexible"):
        raise ValueError(f"mode must be 'strict' or 'flexible', got {mode!r}")
    if not isinstance(output, str):
        return None
    return extract(output[-MAX_OUTPUT_CHARS:], _family(task), mode)


def grade(
    output: str,
    gold: str | Sequence[str],
    task: str,
    mode: str = "strict",
    *,
    budget_s: float = DEFAULT_BUDGET_S,
) -> Grade:
    """Grade one model output against the gold answer(s).

    Args:
        output: the model's completion (untrusted).
        gold: the reference answer, or a sequence of alternatives any one of which is accepted.
        task: ``math``/``math500``/``gsm8k`` (unknown names use MATH rules).
        mode: ``strict`` or ``flexible`` extraction.
        budget_s: wall-clock budget for the comparison; past it the status is ``timeout``.

    Returns:
        A :class:`Grade`; ``status`` is one of correct, wrong, no_answer, timeout.

    Examples:
        >>> grade("so the answer is $\\boxed{\\frac12}$.", "0.5", "math").status
        'correct'
    """
    golds = _golds(gold)
    extracted = extract_answer(output, task, mode)
    if extracted is None:
        return Grade(False, None, "no_answer")
    budget = Budget(budget_s)
    timed_out = False
    for g in golds:
        try:
            if compare(extracted, g, _family(task), budget):
                return Grade(True, extracted, "correct")
        except AnswerTimeout:
            timed_out = True
    return Grade(False, extracted, "timeout" if timed_out else "wrong")


def equivalent(pred: str, gold: str, task: str = "math", *, budget_s: float = DEFAULT_BUDGET_S) -> bool:
    """True when two final answers are equal (a timeout counts as not shown equal).

    Use :func:`grade` when the timeout must be told apart from "wrong".
    """
    try:
        return compare(pred, gold, _family(task), Budget(budget_s))
    except AnswerTimeout:
        return False
