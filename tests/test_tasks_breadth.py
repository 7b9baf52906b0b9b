"""The competition and robustness tasks end to end: ``harness.eval.evaluate`` with the openai backend
over real HTTP against a loopback OpenAI-compatible server (``http.server`` in a thread) that answers
some problems right (the gold, boxed or in the GSM8K format) and some wrong (a wrong number, or no
final answer). The reported accuracy, per task and per cell, equals the known truth; SVAMP also runs
with the GSM8K 8-shot prompt. Then the runs go through ``harness leaderboard add`` and ``harness check``
across the tasks (a candidate that loses OlympiadBench fails the gate there and only there).

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_tasks_breadth.py``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.data import GROUPS, expand_tasks, load_task
from harness.eval import EvalConfig, evaluate
from harness.prompts import get_prompt

LIMIT = 12
TASKS = expand_tasks(["reasoning", "classic"])
WRONG = "I tried twice; the result is $\\boxed{-987654.321}$."
NO_ANSWER = "I am not sure how to finish this one."


def _reply(task: str, i: int, gold: str, prompt: str, model: str) -> str:
    """What the fake model says about problem ``i`` of ``task`` (deterministic; the test knows the truth)."""
    if model == "cand":  # the candidate: right everywhere except OlympiadBench
        right = task != "olympiadbench"
    else:
        right = i % 3 != 1
    if not right:
        return NO_ANSWER if i % 6 == 4 else WRONG
    if prompt == "gsm8k-cot":
        return f"First add, then subtract. The answer is {gold}."
    return f"Let me work it out step by step.\nSo the answer is $\\boxed{{{gold}}}$."


def _is_right(task: str, i: int, model: str) -> bool:
    return task != "olympiadbench" if model == "cand" else i % 3 != 1


class _Server:
    """A loopback OpenAI-compatible server; replies are looked up by the exact prompt text."""

    def __init__(self, replies: dict[tuple[str, str], str]) -> None:
        self.replies, self.seen = replies, Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                text = body.get("prompt")
                if text is None:  # chat: the rendered user turn
                    text = body["messages"][-1]["content"]
                reply = outer.replies.get((body["model"], text))
                if reply is not None:
                    outer.seen[body["model"]] += 1
                    code, data = 200, {
                        "choices": [{"index": k, "text": reply, "finish_reason": "stop"} for k in range(body["n"])],
                        "usage": {"prompt_tokens": len(text.split()), "completion_tokens": len(reply.split())}}
                else:  # a prompt this test never rendered: a client error, never a generation
                    code, data = 400, {"error": {"message": f"unknown prompt {text[:60]!r}"}}
                raw = json.dumps(data).encode()
                self.send_response(code)
                for k, v in (("Content-Type", "application/json"), ("Content-Length", str(len(raw)))):
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # a window of 256 connects at once (socketserver's default is 5)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def problems(data_dir):
    return {t: load_task(t, data_dir_=data_dir)[:LIMIT] for t in TASKS}


@pytest.fixture(scope="module")
def server(problems):
    replies = {}
    for model in ("base", "cand"):
        for t, probs in problems.items():
            for i, p in enumerate(probs):
                for prompt in ("qwen-boxed", "gsm8k-cot") if t == "svamp" else ("qwen-boxed",):
                    tmpl = get_prompt(prompt)
                    r = tmpl.render(p.question)
                    for text in {r.text, (r.messages or [{}])[-1].get("content", r.text)}:
                        replies[(model, text)] = _reply(t, i, p.answer, prompt, model)
    with _Server(replies) as s:
        yield s


def _eval(server, data_dir, out, model="base", tasks=("reasoning", "classic"), **kw):
    cfg = EvalConfig(model=model, backend="openai", base_url=server.url, tasks=tasks, limit=LIMIT,
                     output_dir=str(out), data_dir=str(data_dir), batch_size=8, max_new_tokens=64, **kw)
    return evaluate(cfg, progress=False)


@pytest.mark.slow
def test_reported_accuracy_equals_truth_per_task_and_cell(server, data_dir, problems, tmp_path):
    assert GROUPS["reasoning"] + GROUPS["classic"] and len(TASKS) == 8
    res = _eval(server, data_dir, tmp_path / "base")
    assert sorted(res["tasks"]) == sorted(TASKS)
    for t, probs in problems.items():
        truth = [_is_right(t, i, "base") for i in range(len(probs))]
        got = res["tasks"][t]
        assert got["strict"]["n"] == len(probs) == LIMIT
        assert got["strict"]["correct"] == sum(truth) == 8, t
        assert got["strict"]["acc"] == pytest.approx(sum(truth) / len(probs))
        assert got["flexible"]["correct"] >= sum(truth)  # flexible may read the wrong number too, never more right
        assert got["no_answer_rate"] == pytest.approx(sum(1 for i in range(len(probs)) if not truth[i] and i % 6 == 4)
                                                      / len(probs))
        cells = Counter(p.subject for p in probs)
        right = Counter(p.subject for i, p in enumerate(probs) if truth[i])
        if t != "gsm8k":
            assert {s: b["strict"]["correct"] for s, b in got["by_subject"].items()} == {
                s: right.get(s, 0) for s in cells}, t
    samples = [json.loads(x) for x in (tmp_path / "base" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 8 * LIMIT and server.seen["base"] >= 8 * LIMIT
    assert {s["subject"] for s in samples if s["task"] == "aime24"} == {"AIME 2024 I"}
    # the task with a documented tolerance (Minerva) also carries tolerant verdicts; the others do not
    assert {s["task"] for s in samples if "correct_tol_strict" in s} == {"minerva_math"}
    assert all(s["correct_tol_strict"] >= s["correct_strict"] for s in samples if s["task"] == "minerva_math")


@pytest.mark.slow
def test_svamp_with_the_gsm8k_8shot_prompt(server, data_dir, problems, tmp_path):
    res = _eval(server, data_dir, tmp_path / "svamp8", tasks=("svamp",), prompt="gsm8k-cot")
    assert res["manifest"]["prompt"]["name"] == "gsm8k-cot" and res["manifest"]["n_shot"] == 8
    truth = sum(_is_right("svamp", i, "base") for i in range(LIMIT))
    assert res["tasks"]["svamp"]["strict"]["correct"] == truth


@pytest.mark.slow
def test_leaderboard_and_check_across_the_new_tasks(server, data_dir, tmp_path):
    base, cand, lb = tmp_path / "base", tmp_path / "cand", tmp_path / "lb"
    _eval(server, data_dir, base)
    _eval(server, data_dir, cand, model="cand")
    runner = CliRunner()
    res = runner.invoke(main, ["leaderboard", "add", str(base), "--leaderboard", str(lb), "--label", "base"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (lb / "records.jsonl").read_text().splitlines()]
    assert sorted(r["task"] for r in rows) == sorted(TASKS)
    show = runner.invoke(main, ["leaderboard", "show", "--task", "olympiadbench", "--by", "subject",
                                "--leaderboard", str(lb)])
    assert show.exit_code == 0 and "Algebra" in show.output, show.output
    gate = runner.invoke(main, ["check", "--baseline", str(base), "--candidate", str(cand)])
    assert gate.exit_code == 1, gate.output
    assert "olympiadbench: significant drop" in gate.output
    assert not any(f"{t}: significant drop" in gate.output for t in TASKS if t != "olympiadbench")
    one = runner.invoke(main, ["check", "--baseline", "base@aime24", "--candidate", str(cand), "--leaderboard",
                               str(lb)])
    assert one.exit_code == 0, one.output
    lost = runner.invoke(main, ["check", "--baseline", "base@olympiadbench", "--candidate", str(cand),
                                "--leaderboard", str(lb)])
    assert lost.exit_code == 1, lost.output
