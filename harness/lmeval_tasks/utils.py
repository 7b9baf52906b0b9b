"""lm-eval hooks for the harness_* tasks: prompt rendering and scoring through :mod:`harness.answers`.

lm-eval loads this file from the folder ``harness lm-eval-tasks`` writes (``!function utils.x``
in the YAMLs), so it must stay self-contained apart from ``harness`` imports.

One ``doc_to_text_<task>``, ``doc_to_target_<task>`` and ``process_results_<task>`` per exported task:
rows are parsed by the task's own row parser (so prompt text and golds are exactly what ``harness eval``
uses), prompts are the task's default prompt, and answers are graded with the task's own rules (exact,
as ``harness eval``'s headline columns).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.answers import grade
from harness.data import REGISTRY, Task
from harness.prompts import get_prompt


def _hooks(task: Task) -> tuple[Callable, Callable, Callable]:
    rules = task.rules.exact()
    prompt = get_prompt(task.prompt)

    def doc_to_text(doc: dict) -> str:
        return prompt.render(task.problem(doc).question, 0).text

    def doc_to_target(doc: dict) -> str:
        gold = task.problem(doc).answer
        return gold if isinstance(gold, str) else gold[0]

    def process_results(doc: dict, results: list[str]) -> dict[str, int]:
        """lm-eval ``process_results``: strict and flexible correctness of the first generation."""
        gold = task.problem(doc).answer
        return {mode: int(grade(results[0], gold, rules, mode).correct) for mode in ("strict", "flexible")}

    return doc_to_text, doc_to_target, process_results


for _name in REGISTRY.names():
    _task = REGISTRY[_name]
    if _task.lmeval:
        (globals()[f"doc_to_text_{_name}"], globals()[f"doc_to_target_{_name}"],
         globals()[f"process_results_{_name}"]) = _hooks(_task)
