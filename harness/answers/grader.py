"""Glue: extraction + equivalence -> :class:`Grade`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from harness.answers.equiv import compare
from harness.answers.extract import extract
from harness.answers.rules import AnswerRules, as_rules
from harness.answers.types import BACKSTOP_S, DEFAULT_STEPS, AnswerTimeout, Budget, Grade

logger = logging.getLogger(__name__)

#: Bump on any change that can move a verdict; recorded in every run manifest (see CHANGELOG.md).
ENGINE_VERSION = "1.3"

#: The CPU-time backstop of one grading call (seconds); the work budget (steps) decides first.
DEFAULT_BUDGET_S = BACKSTOP_S


def _golds(gold: str | Sequence[str]) -> list[str]:
    if isinstance(gold, str):
        return [gold]
    golds = [str(g) for g in gold]
    if not golds:
        raise ValueError("gold must be a string or a non-empty sequence of accepted answers")
    return golds


def extract_answer(output: str, task: str | AnswerRules, mode: str = "strict") -> str | None:
    """The final answer in a model output, or None.

    Args:
        output: the model's completion.
        task: the task's :class:`AnswerRules`, or a family / built-in name (``math``, ``math500``,
            ``gsm8k``); other names use MATH rules (``harness.data.answer_rules`` resolves any task).
        mode: ``strict`` (only explicit final-answer markers the prompts ask for) or ``flexible``
            (adds fallbacks: "Final Answer:", bold markdown, last number).
    """
    if mode not in ("strict", "flexible"):
        raise ValueError(f"mode must be 'strict' or 'flexible', got {mode!r}")
    if not isinstance(output, str):
        return None
    return extract(output, as_rules(task).family, mode)


def grade(
    output: str,
    gold: str | Sequence[str],
    task: str | AnswerRules = "math",
    mode: str = "strict",
    *,
    rel_tol: float | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    steps: int = DEFAULT_STEPS,
) -> Grade:
    """Grade one model output against the gold answer(s).

    Args:
        output: the model's completion (untrusted). Only the text after the last ``</think>`` is
            graded; an unclosed ``<think>`` block is ``no_answer`` (see :func:`unclosed_think`).
        gold: the reference answer, or a sequence of alternatives any one of which is accepted.
        task: the task's :class:`AnswerRules` (``harness.data.answer_rules(name)``), or
            ``math``/``math500``/``gsm8k`` (other names use MATH rules).
        mode: ``strict`` or ``flexible`` extraction.
        rel_tol: numbers within this relative tolerance compare equal (for tasks whose benchmark
            protocol has a tolerance); None (default) compares exactly.
        budget_s: the last-resort backstop: CPU seconds of this thread for the comparison; when it
            fires (never expected: the work budget decides first) the status is ``timeout`` and
            ``Grade.backstop`` is True.
        steps: the work budget of the comparison (see docs/grading-budget.md); past it the status is
            ``timeout``. The status is a function of the arguments alone (not of time, threads, load).

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
    rules = as_rules(task, rel_tol)
    if mode not in ("strict", "flexible"):
        raise ValueError(f"mode must be 'strict' or 'flexible', got {mode!r}")
    try:
        extracted = extract_answer(output, rules, mode)
    except Exception as exc:  # noqa: BLE001 - any internal failure is a counted status, never a verdict
        return _error(exc, output, None)
    if extracted is None:
        return Grade(False, None, "no_answer")
    budget = Budget(steps, backstop_s=budget_s)
    timed_out, failure = False, None
    for g in golds:  # any accepted gold that compares equal wins
        try:
            if compare(extracted, g, rules.family, budget, rel_tol=rules.rel_tol):
                return Grade(True, extracted, "correct")
        except AnswerTimeout:
            timed_out = True
        except Exception as exc:  # noqa: BLE001 - see above
            failure = exc
    if failure is not None:
        return _error(failure, output, extracted)
    if budget.backstop:
        logger.warning("grading hit the %.1f s CPU backstop after %d counted steps (status 'timeout'; "
                       "uncounted work, please report) on output tail %r", budget_s, budget.used, str(output)[-80:])
    return Grade(False, extracted, "timeout" if timed_out else "wrong", backstop=budget.backstop)


def _error(exc: Exception, output: object, extracted: str | None) -> Grade:
    """Status ``error``: an exception inside the engine (a bug), logged with the output's tail."""
    logger.warning("grading failed (status 'error'): %r on output tail %r", exc, str(output)[-80:])
    return Grade(False, extracted, "error")


def equivalent(pred: str, gold: str, task: str | AnswerRules = "math", *, rel_tol: float | None = None,
               budget_s: float = DEFAULT_BUDGET_S, steps: int = DEFAULT_STEPS) -> bool:
    """True when two final answers are equal. A timeout or an internal error counts as "not shown
    equal" (an error is logged); use :func:`grade` when those must be told apart from "wrong".
    """
    rules = as_rules(task, rel_tol)
    try:
        return compare(pred, gold, rules.family, Budget(steps, backstop_s=budget_s), rel_tol=rules.rel_tol)
    except AnswerTimeout:
        return False
    except Exception as exc:  # noqa: BLE001 - logged; grade() reports it as status "error"
        logger.warning("equivalence failed: %r on %r vs %r", exc, str(pred)[:80], str(gold)[:80])
        return False
