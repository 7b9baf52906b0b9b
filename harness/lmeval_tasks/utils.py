"""lm-eval hooks for the harness_* tasks: prompt rendering and scoring through :mod:`harness.answers`.

lm-eval loads this file from the folder ``harness lm-eval-tasks`` writes (``!function utils.x``
in the YAMLs), so it must stay self-contained apart from ``harness`` imports.
"""

from __future__ import annotations

from harness.answers import grade
from harness.data import get_task, gsm8k_final_answer, math_gold, problem_from_row
from harness.lmeval_tasks import PARSED_TASKS
from harness.prompts import get_prompt

#: The prompt the YAMLs use (recorded in each YAML's metadata).
PROMPT = "qwen-boxed"


def doc_to_text_gsm8k(doc: dict) -> str:
    """The zero-shot qwen-boxed prompt text for a GSM8K row."""
    return get_prompt(PROMPT).render(doc["question"], 0).text


def doc_to_text_math(doc: dict) -> str:
    """The zero-shot qwen-boxed prompt text for a MATH / MATH-500 row."""
    return get_prompt(PROMPT).render(doc["problem"], 0).text


def doc_to_target_gsm8k(doc: dict) -> str:
    return gsm8k_final_answer(doc["answer"])


def doc_to_target_math(doc: dict) -> str:
    gold = math_gold(doc)
    return gold if isinstance(gold, str) else gold[0]


def _scores(output: str, gold, family: str) -> dict[str, int]:
    return {mode: int(grade(output, gold, family, mode).correct) for mode in ("strict", "flexible")}


def process_results_gsm8k(doc: dict, results: list[str]) -> dict[str, int]:
    """lm-eval ``process_results``: strict and flexible correctness of the first generation."""
    return _scores(results[0], gsm8k_final_answer(doc["answer"]), "gsm8k")


def process_results_math(doc: dict, results: list[str]) -> dict[str, int]:
    """lm-eval ``process_results``: strict and flexible correctness (multi-answer golds handled)."""
    return _scores(results[0], math_gold(doc), "math")


# --- the competition and robustness tasks: rows parsed by harness.data, so prompt text and golds are
# exactly what `harness eval` uses. One doc_to_text_/doc_to_target_/process_results_<task> per task.


def _hooks(task: str):
    family = get_task(task).answer_task

    def doc_to_text(doc: dict) -> str:
        return get_prompt(PROMPT).render(problem_from_row(task, doc).question, 0).text

    def doc_to_target(doc: dict) -> str:
        gold = problem_from_row(task, doc).answer
        return gold if isinstance(gold, str) else gold[0]

    def process_results(doc: dict, results: list[str]) -> dict[str, int]:
        return _scores(results[0], problem_from_row(task, doc).answer, family)

    return doc_to_text, doc_to_target, process_results


for _task in PARSED_TASKS:
    (globals()[f"doc_to_text_{_task}"], globals()[f"doc_to_target_{_task}"],
     globals()[f"process_results_{_task}"]) = _hooks(_task)
