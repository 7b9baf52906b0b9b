"""lm-eval hooks for the harness_* tasks: prompt rendering and scoring through :mod:`harness.answers`.

lm-eval loads this file from the folder ``harness lm-eval-tasks`` writes (``!function utils.x``
in the YAMLs), so it must stay self-contained apart from ``harness`` imports.
"""

from __future__ import annotations

from harness.answers import grade
from harness.data import gsm8k_final_answer, math_gold
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
