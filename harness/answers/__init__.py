"""The answer engine: extraction and equivalence of final answers. Pure: str in, verdict out.

Public API (stable):

- :func:`grade` ``(output, gold, task="math", mode="strict", *, rel_tol=None) -> Grade``
  (statuses correct, wrong, no_answer, timeout, error; a deterministic work budget, see
  docs/grading-budget.md)
- :func:`equivalent` ``(pred, gold, task="math", *, rel_tol=None) -> bool``
- :func:`extract_answer` ``(output, task, mode="strict") -> str | None``
- :func:`unclosed_think` ``(output) -> bool``: the output opened a ``<think>`` block it never closed
- :func:`grade_batch` ``(outputs, golds, task="math", mode="strict", *, workers=None, timeout_s=10.0,
  rel_tol=None) -> list[Grade]`` (and :func:`grade_batch_async`): many items, in-process or on a
  reusable process pool (:mod:`harness.answers.batch`)

No I/O, no torch, and no ``eval``/``exec``/``sympify``/``parse_expr`` of strings: LaTeX is parsed by
our own bounded parser (:mod:`harness.answers.latex`) into a small AST of tuples, and values are
computed with ``fractions.Fraction`` and ``mpmath`` (:mod:`harness.answers.values`); no sympy.
"""

from harness.answers.batch import GradingPool, grade_batch, grade_batch_async, shared_pool
from harness.answers.extract import unclosed_think
from harness.answers.grader import ENGINE_VERSION, equivalent, extract_answer, grade
from harness.answers.rules import AnswerRules
from harness.answers.types import STATUSES, AnswerTimeout, BackstopTimeout, Budget, Grade, Mode, Status

__all__ = [
    "ENGINE_VERSION",
    "STATUSES",
    "AnswerRules",
    "AnswerTimeout",
    "BackstopTimeout",
    "Budget",
    "Grade",
    "GradingPool",
    "Mode",
    "Status",
    "equivalent",
    "extract_answer",
    "grade",
    "grade_batch",
    "grade_batch_async",
    "shared_pool",
    "unclosed_think",
]
