"""One Task per benchmark (``harness.data.Task``) and the ``TaskRegistry``: every fact of a task comes from its
Task (answer rules, default prompt, evaluation-only flag, synthesis stand-in, lm-eval export, help texts), and
every stage that grades (the API, ``harness eval``, ``harness grade``, the lm-eval hooks, synthesis filtering)
grades a task, built-in or custom, with the task's own rules. Real data files, real runs with an in-process
fake backend; no mocks of the code under test.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_tasks.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.answers import AnswerRules
from harness.backends import Generation
from harness.cli import main
from harness.data import (
    EVAL_ONLY_TASKS,
    REGISTRY,
    SeedSource,
    TaskRegistry,
    answer_rules,
    jsonl_task,
    load_task,
    register_jsonl_task,
    task_help,
)
from harness.errors import ConfigError, HarnessError
from harness.prompts import PROMPTS, default_prompt

BUILTIN = ["aime24", "aime25", "amc23", "gsm8k", "math", "math500", "minerva_math", "olympiadbench", "svamp"]


# --- the facts of the built-in tasks ------------------------------------------------------------------


def test_every_builtin_task_states_all_its_facts():
    assert REGISTRY.builtin_names() == BUILTIN
    for name in BUILTIN:
        t = REGISTRY[name]
        assert t.prompt in PROMPTS and default_prompt(name) == t.prompt
        assert t.lmeval and t.lmeval_name == f"harness_{name}"
        assert t.eval_only == (name in EVAL_ONLY_TASKS)
        if t.eval_only:
            assert "train" not in t.splits  # evaluation sets have no training data of their own
        if t.seeds is not None:  # the stand-in is a registered task with a train split
            assert "train" in REGISTRY[t.seeds.task].splits
    assert EVAL_ONLY_TASKS == ("aime24", "aime25", "amc23", "minerva_math", "olympiadbench", "svamp")
    assert answer_rules("svamp") == AnswerRules("gsm8k") == REGISTRY["gsm8k"].rules
    assert answer_rules("minerva_math") == AnswerRules("math", 1e-5)
    assert REGISTRY["minerva_math"].seeds is None  # reported, not filled
    assert REGISTRY["svamp"].seeds == SeedSource("gsm8k")
    assert REGISTRY["aime24"].seeds == SeedSource("math", min_level=5)


def test_seed_sources_come_from_the_registry():
    from synth.seeds import no_source_reason, seed_source

    assert seed_source("amc23") == SeedSource("math", min_level=4) and seed_source("minerva_math") is None
    assert seed_source("never_registered") is None
    assert "sources: aime24, aime25, amc23, gsm8k, math, math500, olympiadbench, svamp)" in no_source_reason("x")


# --- the registry instance ---------------------------------------------------------------------------


def test_a_registry_of_ones_own_leaves_the_process_registry_alone(tmp_path):
    f = tmp_path / "own.jsonl"
    f.write_text('{"question": "1+1?", "answer": "2"}\n')
    mine = TaskRegistry.builtin()
    mine.register(jsonl_task("own", f, answer_task="gsm8k"))
    assert "own" in mine and "own" not in REGISTRY and len(mine) == len(REGISTRY) + 1
    assert mine.rules("own") == AnswerRules("gsm8k") and [p.answer for p in mine.load("own")] == ["2"]
    copy = mine.copy()
    mine.unregister("own")
    assert "own" in copy and "own" not in mine


def test_scoped_undoes_registrations_and_names_are_checked(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"question": "1+1?", "answer": "2"}\n')
    with REGISTRY.scoped():
        register_jsonl_task("scoped_task", f)
        assert "scoped_task" in REGISTRY and "scoped_task" in task_help()
    assert "scoped_task" not in REGISTRY
    with pytest.raises(ConfigError, match="cannot be called 'gsm8k': that is a built-in task"):
        REGISTRY.register(jsonl_task("gsm8k", f))
    with pytest.raises(ConfigError, match="'classic': that is a group alias"):
        REGISTRY.register(jsonl_task("classic", f))
    with pytest.raises(HarnessError, match="Did you mean 'svamp'"):
        REGISTRY["svamq"]
    with pytest.raises(Exception, match="family must be one of math, gsm8k"):
        jsonl_task("x", f, answer_task="gsm9k")


# --- help texts list what the registry holds -----------------------------------------------------------


def test_eval_help_lists_every_registered_task():
    """issue 21 item 10: `harness eval --help` listed 3 of the 9 tasks it accepts."""
    res = CliRunner().invoke(main, ["eval", "--help"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # click wraps help lines
    assert task_help() in text
    assert all(name in task_help() for name in BUILTIN) and task_help().endswith("groups: classic, reasoning")


# --- every stage grades a task with its own rules ---------------------------------------------------------


class Replies:
    """In-process fake backend: replies ``reply`` to every prompt."""

    name = "fake"
    has_chat_template = False

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def generate(self, prompts, params):
        return [[Generation(self.reply, 5, 20, "stop")] * params.n for _ in prompts]

    def close(self) -> None:
        pass


@pytest.fixture
def gsm_style_task(tmp_path) -> Path:
    f = tmp_path / "gsmstyle.jsonl"
    f.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 2?", "answer": "5"}) + "\n"
                         for i in range(3)))
    return f


def test_custom_task_grades_with_its_rules_in_eval_grade_and_the_api(gsm_style_task, tmp_path):
    import harness
    from harness.eval import EvalConfig, evaluate
    from harness.gradefile import grade_file

    reply = "2 + 3 = 5\n#### 5"  # a final answer under GSM8K rules only
    for rules, want in (("gsm8k", 1.0), ("math", 0.0)):
        cfg = EvalConfig(model="fake", tasks=(str(gsm_style_task),), answer_task=rules,  # type: ignore[arg-type]
                         output_dir=str(tmp_path / rules))
        res = evaluate(cfg, backend=Replies(reply), progress=False)
        assert res["tasks"]["gsmstyle"]["strict"]["acc"] == want
        assert answer_rules("gsmstyle") == AnswerRules(rules)  # eval registered it, in this process
        assert harness.grade(reply, "5", task="gsmstyle").correct == bool(want)
        rows = tmp_path / f"{rules}.outputs.jsonl"
        rows.write_text(json.dumps({"output": reply, "gold": "5"}) + "\n")
        report = grade_file(rows, "gsmstyle", progress=False)
        assert report.n_correct("strict") == int(want)
        REGISTRY.unregister("gsmstyle")


def test_default_prompt_is_the_tasks_own(gsm_style_task):
    with REGISTRY.scoped():
        REGISTRY.register(jsonl_task("cot_task", gsm_style_task, prompt="gsm8k-cot"))
        assert default_prompt("cot_task") == "gsm8k-cot"
    assert default_prompt("cot_task") == default_prompt("somefile.jsonl") == "qwen-boxed"


def test_lmeval_hooks_grade_exactly_as_eval_headline(data_dir):
    """minerva_math's tolerance is its documented setting; lm-eval's strict/flexible, like eval's headline
    columns, are exact."""
    from harness.lmeval_tasks import utils

    row = json.loads((data_dir / "minerva_math" / "test.jsonl").read_text().splitlines()[1])
    gold = load_task("minerva_math", data_dir_=data_dir)[1].answer
    assert gold == "4.5e33"
    near = "so $\\boxed{4.50001e33}$"
    assert utils.process_results_minerva_math(row, [near]) == {"strict": 0, "flexible": 0}
    assert utils.process_results_minerva_math(row, ["so $\\boxed{4.5e33}$"]) == {"strict": 1, "flexible": 1}
    import harness

    assert harness.grade(near, gold, task="minerva_math").correct  # the declared rules carry the tolerance


def test_synthesis_filters_a_cell_with_its_tasks_rules():
    """Bug: teacher solutions of SVAMP cells were judged with MATH rules (only a cell of task "gsm8k" got
    GSM8K's), so GSM8K-style solutions ("#### 12") of SVAMP's stand-in problems were all "no_answer"."""
    from harness.data import Problem
    from synth.augment import TEMPLATES, Unit, _judge, _new_record

    seed = Problem("train/0", "Tom has 7 apples and gets 5 more. How many apples does he have?", "12")
    for task, family in (("svamp", "gsm8k"), ("gsm8k", "gsm8k"), ("aime24", "math")):
        unit = Unit(key="k", problem=seed, cell={"task": task, "subject": None, "level": None}, stage="normal",
                    template=TEMPLATES["metamath/rephrase"], prompt="", known=None)
        rec = _new_record(unit)
        rec["question"] = "Ann has 7 pears and gets 5 more. How many pears does she have?"
        solutions = [f"{a} + {b} = 12\n#### 12" for a, b in ((7, 5), (5, 7), (6, 6), (10, 2))]  # 4 distinct votes
        _judge(unit, rec, solutions, 4, "teacher")
        if family == "gsm8k":
            assert rec["outcome"] == "accepted" and rec["item"]["answer"] == "12", (task, rec)
            assert rec["item"]["task"] == "gsm8k"
        else:
            assert rec["outcome"] == "no_answer", (task, rec)
