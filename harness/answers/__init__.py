"""The answer engine: extraction and equivalence of final answers. Pure: str in, verdict out.

Public API (stable):

- :func:`grade` ``(output, gold, task, mode="strict") -> Grade``
- :func:`equivalent` ``(pred, gold, task="math") -> bool``
- :func:`extract_answer` ``(output, task, mode="strict") -> str | None``

No I/O, no torch, and no ``eval``/``exec``/``sympify``/``parse_expr`` of strings: LaTeX is parsed by
our own bounded parser (:mod:`harness.answers.latex`) into sympy objects.
"""

from harness.answers.grader import ENGINE_VERSION, equivalent, extract_answer, grade
from harness.answers.types import STATUSES, AnswerTimeout, Budget, Grade, Mode, Status

__all__ = [
    "ENGINE_VERSION",
    "STATUSES",
    "AnswerTimeout",
    "Budget",
    "Grade",
    "Mode",
    "Status",
    "equivalent",
    "extract_answer",
    "grade",
]
