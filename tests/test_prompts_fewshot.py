"""The few-shot prompt templates ``minerva-math`` and ``gsm8k-cot`` checked against the reference
exemplars and layout shipped in the installed lm-evaluation-harness (``lm_eval/tasks/minerva_math/utils.py``
and ``lm_eval/tasks/gsm8k/gsm8k-cot.yaml``): same exemplar texts, same rendered prompt as lm-eval's
``doc_to_text + " " + target`` joined by "\\n\\n", and responses in each format end in the answer sentence.

Run: ``python3 -m pytest -q tests/test_prompts_fewshot.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.prompts import get_prompt

QUESTION = "What is $1+2$?"


def _lm_eval_tasks() -> Path:
    lm_eval = pytest.importorskip("lm_eval")
    return Path(lm_eval.__file__).parent / "tasks"


def _minerva_reference() -> list[dict]:
    """The list literal returned by lm-eval's ``list_fewshot_samples``, read with ``ast`` (importing that
    module asserts a specific antlr4 version at import time)."""
    tree = ast.parse((_lm_eval_tasks() / "minerva_math" / "utils.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "list_fewshot_samples")
    ret = next(n for n in ast.walk(fn) if isinstance(n, ast.Return))
    return ast.literal_eval(ret.value)


def test_minerva_matches_lm_eval():
    ref = _minerva_reference()
    t = get_prompt("minerva-math")
    assert (t.version, t.default_n_shot, t.stop) == ("1", 4, ("\n\nProblem:",))
    assert len(ref) == 4
    assert [(d["problem"], d["solution"]) for d in ref] == list(t.exemplars)
    # lm-eval: doc_to_text = "Problem:\n" + problem + "\n\nSolution:", target delimiter " ",
    # shots joined by "\n\n"
    expected = "\n\n".join(f"Problem:\n{d['problem']}\n\nSolution: {d['solution']}" for d in ref)
    expected += f"\n\nProblem:\n{QUESTION}\n\nSolution:"
    assert t.render(QUESTION).text == expected
    assert t.render(QUESTION, 0).text == "Problem:\nWhat is $1+2$?\n\nSolution:"


def test_gsm8k_cot_matches_lm_eval():
    cfg = yaml.safe_load((_lm_eval_tasks() / "gsm8k" / "gsm8k-cot.yaml").read_text())
    ref = cfg["fewshot_config"]["samples"]
    t = get_prompt("gsm8k-cot")
    assert (t.version, t.default_n_shot, t.stop) == ("1", 8, ("\n\nQ:",))
    assert [(d["question"], d["target"]) for d in ref] == list(t.exemplars)
    expected = "\n\n".join(f"Q: {d['question']}\nA: {d['target']}" for d in ref) + f"\n\nQ: {QUESTION}\nA:"
    assert t.render(QUESTION).text == expected
    assert t.render(QUESTION, 2).text.count("Q: ") == 3


def test_fewshot_answer_sentences_and_limits():
    m, g = get_prompt("minerva-math"), get_prompt("gsm8k-cot")
    assert (
        m.format_response("So x=3.", "3")
        == "So x=3.\nFinal Answer: The final answer is $3$. I hope it is correct."
    )
    assert g.format_response("1 + 2 = 3.", "3") == "1 + 2 = 3.\nThe answer is 3."
    assert all(a.endswith(m.answer_fn(a.split("$")[-2])) for _, a in m.exemplars)
    assert all(a.endswith(g.answer_fn(a.split()[-1].rstrip("."))) for _, a in g.exemplars)
    with pytest.raises(HarnessError, match="has 8 few-shot exemplars; asked for 9"):
        g.render(QUESTION, 9)
    assert m.render(QUESTION).messages is None  # base-model completion prompts
