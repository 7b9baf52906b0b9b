"""Glue: extraction + equivalence -> :class:`Grade`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from harness.answers.equiv import compare
from harness.answers.extract import extract
from harness.answers.types import AnswerTimeout, Budget, Grade

logger = logging.getLogger(__name__)

#: Bump on any change that can move a verdict; recorded in every run manifest (see CHANGELOG.md).
ENGINE_VERSION = "1.2"

TASK_FAMILIES = {"math": "math", "math500": "math", "gsm8k": "gsm8k"}
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
    return extract(output, _family(task), mode)


def grade(
    output: str,
    gold: str | Sequence[str],
    task: str = "math",
    mode: str = "strict",
    *,
    rel_tol: float | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
) -> Grade:
    """Grade one model output against the gold answer(s).

    Args:
        output: the model's completion (untrusted). Only the text after the last ``</think>`` is
            graded; an unclosed ``<think>`` block is ``no_answer`` (see :func:`unclosed_think`).
        gold: the reference answer, or a sequence of alternatives any one of which is accepted.
        task: ``math``/``math500``/``gsm8k`` (unknown names use MATH rules).
        mode: ``strict`` or ``flexible`` extraction.
        rel_tol: numbers within this relative tolerance compare equal (for tasks whose benchmark
            protocol has a tolerance); None (default) compares exactly.
        budget_s: wall-clock budget for the comparison; past it the status is ``timeout``.

    Returns:
        A :class:`Grade`; ``status`` is one of correct, wrong, no_answer, timeout, error (an internal
        exception while grading: logged and counted, never "wrong").

    Raises:
        ValueError: ``mode`` is not strict/flexible, ``gold`` is empty, or ``rel_tol`` is negative.

    Examples:
        >>> grade("so the answer is $\\\\boxed{\\\\frac12}$.", "0.5", "math").status
        'correct'
        >>> grade("<think>x = 3?</think> So $x = \\\\boxed{3}$.", "3").status
        'correct'
    """
    golds = _golds(gold)
    if rel_tol is not None and not (isinstance(rel_tol, (int, float)) and rel_tol >= 0):
        raise ValueError(f"rel_tol must be a number >= 0 or None, got {rel_tol!r}")
    if mode not in ("strict", "flexible"):
        raise ValueError(f"mode must be 'strict' or 'flexible', got {mode!r}")
    try:
        extracted = extract_answer(output, task, mode)
    except Exception as exc:  # noqa: BLE001 - any internal failure is a counted status, never a verdict
        return _error(exc, output, None)
    if extracted is None:
        return Grade(False, None, "no_answer")
    budget = Budget(budget_s)
    timed_out, failure = False, None
    for g in golds:  # any accepted gold that compares equal wins
        try:
            if compare(extracted, g, _family(task), budget, rel_tol=rel_tol):
                return Grade(True, extracted, "correct")
        except AnswerTimeout:
            timed_out = True
        except Exception as exc:  # noqa: BLE001 - see above
            failure = exc
    if failure is not None:
        return _error(failure, output, extracted)
    return Grade(False, extracted, "timeout" if timed_out else "wrong")


def _error(exc: Exception, output: object, extracted: str | None) -> Grade:
    """Status ``error``: an exception inside the engine (a bug), logged with the output's tail."""
    logger.warning("grading failed (status 'error'): %r on output tail %r", exc, str(output)[-80:])
    return Grade(False, extracted, "error")


def equivalent(pred: str, gold: str, task: str = "math", *, rel_tol: float | None = None,
               budget_s: float = DEFAULT_BUDGET_S) -> bool:
    """True when two final answers are equal. A timeout or an internal error counts as "not shown
    equal" (an error is logged); use :func:`grade` when those must be told apart from "wrong".
    """
    try:
        return compare(pred, gold, _family(task), Budget(budget_s), rel_tol=rel_tol)
    except AnswerTimeout:
        return False
    except Exception as exc:  # noqa: BLE001 - logged; grade() reports it as status "error"
        logger.warning("equivalence failed: %r on %r vs %r", exc, str(pred)[:80], str(gold)[:80])
        return False
