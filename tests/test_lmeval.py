"""lm-eval interop: `harness lm-eval-tasks` writes one YAML per task the registry exports (harness_gsm8k,
harness_math500, harness_math, harness_aime24, ..., harness_svamp), each reading the task's own local file,
prompting with the task's default prompt (its stop strings as `until`) and scoring with harness.answers under
the task's own rules; lm-eval's ``simple_evaluate`` runs them offline on the tiny checkpoint.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_lmeval.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.answers import grade
from harness.cli import main
from harness.data import REGISTRY, get_task, load_task
from harness.lmeval_tasks import lmeval_tasks, utils
from harness.prompts import get_prompt


def test_cli_writes_yamls_with_absolute_data_files(tmp_path, data_dir):
    res = CliRunner().invoke(main, ["lm-eval-tasks", "--data-dir", str(data_dir), "--out", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    inc = Path(res.stdout.strip())
    assert inc == (tmp_path / "t").resolve()
    yaml = pytest.importorskip("yaml")
    exported = lmeval_tasks()
    assert sorted(exported) == sorted(f"harness_{t}" for t in REGISTRY.builtin_names())  # every built-in task
    for name, task in exported.items():
        text = (inc / f"{name}.yaml").read_text()
        assert f"process_results: !function utils.process_results_{task.name}" in text
        loader = type("L", (yaml.SafeLoader,), {})
        loader.add_constructor("!function", lambda ld, node: ("function", ld.construct_scalar(node)))
        cfg = yaml.load(text, Loader=loader)
        f = Path(cfg["dataset_kwargs"]["data_files"]["test"])
        assert f.is_absolute() and f == task.local_path(data_dir.resolve(), "test") and f.is_file()
        assert cfg["task"] == name and cfg["output_type"] == "generate_until"
        assert cfg["generation_kwargs"]["until"] == list(get_prompt(task.prompt).stop) == ["\nQuestion:"]
        assert [m["metric"] for m in cfg["metric_list"]] == ["strict", "flexible"]
    assert (inc / "utils.py").read_text() == Path(utils.__file__).read_text()


def test_cli_needs_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    res = CliRunner().invoke(main, ["lm-eval-tasks", "--out", str(tmp_path)])
    assert res.exit_code == 1 and res.stderr.startswith("Error:") and "--data-dir" in res.stderr


def test_hooks_match_harness_loader_and_grader(data_dir):
    rows = [json.loads(x) for x in (data_dir / "math" / "math500.jsonl").open().readlines()[:20]]
    probs = load_task("math500", data_dir_=data_dir)[:20]
    for row, p in zip(rows, probs):
        assert utils.doc_to_text_math500(row) == get_prompt("qwen-boxed").render(p.question, 0).text
        good = f"The final answer is $\\boxed{{{p.answer}}}$."
        assert utils.process_results_math500(row, [good]) == {
            m: int(grade(good, p.answer, "math", m).correct) for m in ("strict", "flexible")}
        assert utils.process_results_math500(row, ["no idea"]) == {"strict": 0, "flexible": 0}
    g = json.loads((data_dir / "gsm8k" / "test.jsonl").open().readline())
    gold = load_task("gsm8k", data_dir_=data_dir)[0].answer
    assert utils.doc_to_target_gsm8k(g) == gold
    assert utils.process_results_gsm8k(g, [f"So the answer is $\\boxed{{{gold}}}$."])["strict"] == 1


@pytest.mark.parametrize("task", REGISTRY.builtin_names())
def test_hooks_of_every_task_match_loader_and_grader(data_dir, task):
    with get_task(task).local_path(data_dir, "test").open() as f:
        rows = [json.loads(next(f)) for _ in range(15)]
    probs = load_task(task, data_dir_=data_dir)[:15]
    family = get_task(task).answer_task
    to_text, to_target, results = (getattr(utils, f"{h}_{task}") for h in (
        "doc_to_text", "doc_to_target", "process_results"))
    for row, p in zip(rows, probs):
        assert to_text(row) == get_prompt("qwen-boxed").render(p.question, 0).text
        assert to_target(row) == p.answer
        good = f"The final answer is $\\boxed{{{p.answer}}}$."
        assert results(row, [good]) == {"strict": 1, "flexible": 1}
        assert results(row, ["The final answer is $\\boxed{-987654.321}$."]) == {"strict": 0, "flexible": 0}
        assert results(row, [good]) == {m: int(grade(good, p.answer, family, m).correct) for m in ("strict", "flexible")}


@pytest.mark.slow
def test_simple_evaluate_tiny_model(tmp_path, data_dir, tiny_checkpoint, monkeypatch):
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hfcache"))
    res = CliRunner().invoke(main, ["lm-eval-tasks", "--data-dir", str(data_dir), "--out", str(tmp_path / "t"),
                                    "--max-gen-toks", "12"])
    assert res.exit_code == 0, res.output
    tm = TaskManager(include_path=res.stdout.strip(), include_defaults=False)
    out = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={tiny_checkpoint}",
                                  tasks=["harness_gsm8k", "harness_math500", "harness_math"], limit=3, task_manager=tm,
                                  device="cpu", batch_size=3, log_samples=True)
    for task, htask in (("harness_gsm8k", "gsm8k"), ("harness_math500", "math500"), ("harness_math", "math")):
        r = out["results"][task]
        assert {"strict,none", "flexible,none"} <= set(r)
        problems = load_task(htask, data_dir_=data_dir)[:3]
        logged = out["samples"][task]
        assert len(logged) == 3
        family = "gsm8k" if htask == "gsm8k" else "math"
        for s in logged:
            p = problems[s["doc_id"]]
            args = s["arguments"]
            sent = args[0][0] if isinstance(args, list) else args["gen_args_0"]["arg_0"]
            assert sent == get_prompt("qwen-boxed").render(p.question, 0).text
            text = s["resps"][0][0]
            assert s["strict"] == int(grade(text, p.answer, family, "strict").correct)
            assert s["flexible"] == int(grade(text, p.answer, family, "flexible").correct)
        assert r["strict,none"] == sum(s["strict"] for s in logged) / 3
