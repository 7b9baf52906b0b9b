"""Teacher synthesis never writes made-up training rows (issue 20 item 10).

A real loopback OpenAI-compatible teacher (stdlib http.server in a thread) misbehaves in the ways a user
met: it returns the same text for every request (the reply became both the question AND the response of a
row, "agreement 1.0 over k=4"), it cuts replies at ``max_tokens`` (``finish_reason: "length"``: a cut reply
became the QUESTION of a row), and it sends k identical solutions (k copies of one reply are one vote).
Each goes through the real ``run_synth`` + ``OpenAIBackend`` and is checked in the written rows and in the
report's counts by reason. A well-behaved teacher on the same path still gives rows (the rules do not
reject good work).

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_synth_validity.py``
"""

from __future__ import annotations

import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from harness.answers import grade
from synth.dedup import build_test_index
from synth.pipeline import SynthConfig, report_warnings, run_synth

PLAN = {"cells": [{"task": "math", "subject": "Number Theory", "level": 2, "n_new": 9},
                  {"task": "gsm8k", "subject": "GSM8K", "level": None, "n_new": 6}]}
SOLVE = "put your final answer within"  # the qwen-boxed solver template: a solution request


class Teacher(BaseHTTPRequestHandler):
    """``mode`` picks the misbehaviour; replies depend only on the prompt (deterministic under concurrency)."""

    mode: ClassVar[str] = "good"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt, n = body["prompt"], body.get("n", 1)
        i = zlib.crc32(prompt.encode()) % 1000
        reason = "stop"
        if Teacher.mode == "same":  # the same text for every request, problem or solution
            texts = ["The answer is 1. #### 1"] * n
        elif Teacher.mode == "surrogate" and SOLVE not in prompt:  # a lone surrogate: text no file can hold
            texts = [f"Sure.\nNew problem: A shop sells {i} pencils \ud800 to 7 students every day. How many?"]
        elif SOLVE in prompt:
            if Teacher.mode == "identical":
                texts = ["Step 1.\nSo $\\boxed{7}$."] * n
            else:
                texts = [f"Step {j}: work it out.\nSo $\\boxed{{7}}$." for j in range(n)]
        elif Teacher.mode == "cut":  # every new-problem reply stops at max_tokens, mid-sentence
            texts, reason = ["Sure.\nNew problem: A farmer has 7 cows and buys"], "length"
        elif Teacher.mode == "solution_as_problem":
            texts = [f"New problem: The total is {i} + 7, so the answer is $\\boxed{{{i + 7}}}$."]
        else:
            texts = [f"Sure.\nNew problem: A shop sells {i} pencils to 7 students every day. How many in all?"]
        raw = json.dumps({"choices": [{"index": j, "text": t, "finish_reason": reason} for j, t in enumerate(texts)],
                          "usage": {"completion_tokens": 5, "prompt_tokens": 5}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def teacher():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Teacher)
    srv.request_queue_size = 256
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()
    Teacher.mode = "good"


def _synth(tmp_path, url, data_dir, mode, methods=("evol", "xwin")):
    Teacher.mode = mode
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    out = tmp_path / f"{mode}.jsonl"
    cfg = SynthConfig(teacher_backend="openai", teacher_model="teacher", teacher_base_url=url, k=4,
                      data_dir=str(data_dir), methods=methods)
    rep = run_synth(plan, out, cfg, test_index=build_test_index([], ns=(30,)))
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    return rep, rows


@pytest.mark.slow
def test_good_teacher_still_gives_rows(tmp_path, teacher, data_dir):
    rep, rows = _synth(tmp_path, teacher, data_dir, "good")
    assert rows and rep["counts"]["accepted"] > 0
    for r in rows:
        assert grade(r["response"], r["answer"], r["task"]).correct
        assert r["question"] not in r["response"] and r["provenance"]["agreement"] == 1.0
    assert report_warnings(rep) == []


@pytest.mark.slow
def test_same_text_for_every_request_writes_no_row(tmp_path, teacher, data_dir):
    rep, rows = _synth(tmp_path, teacher, data_dir, "same", methods=("metamath", "evol", "xwin"))
    c = rep["counts"]
    # FOBAR problems are built by code (their question is real), but its k identical solutions are one vote
    assert rows == [] and c["written"] == 0 and c.get("accepted", 0) == 0
    assert c["bad_not_a_problem"] > 0  # the reply states an answer: it is not a problem
    assert c["disagree"] > 0  # FOBAR: 4 copies of one reply are one vote of 4, no majority
    warnings = report_warnings(rep)
    assert any("not a problem" in w for w in warnings) and any("one vote" in w for w in warnings)


@pytest.mark.slow
def test_truncated_teacher_replies_are_rejected_and_counted(tmp_path, teacher, data_dir):
    rep, rows = _synth(tmp_path, teacher, data_dir, "cut")
    c = rep["counts"]
    assert rows == [] and c["bad_truncated"] == c["teacher_prompts"] > 0
    assert any("max_tokens" in w and "--max-new-tokens" in w for w in report_warnings(rep))


@pytest.mark.slow
def test_k_identical_solutions_are_one_vote(tmp_path, teacher, data_dir):
    rep, rows = _synth(tmp_path, teacher, data_dir, "identical")
    c = rep["counts"]
    assert rows == [] and c["disagree"] == c["teacher_prompts"] > 0


@pytest.mark.slow
def test_a_solution_is_not_a_problem(tmp_path, teacher, data_dir):
    rep, rows = _synth(tmp_path, teacher, data_dir, "solution_as_problem")
    assert rows == [] and rep["counts"]["bad_not_a_problem"] == rep["counts"]["teacher_prompts"] > 0


@pytest.mark.slow
def test_lone_surrogate_teacher_reply_is_kept_replaced_not_a_crash(tmp_path, teacher, data_dir):
    """A 200 reply holding a JSON-escaped lone surrogate (as in eval, issue 20 item 1): the openai client
    replaces it with U+FFFD where replies are validated, so the sidecar and the rows are written."""
    rep, rows = _synth(tmp_path, teacher, data_dir, "surrogate")
    assert rows and rep["counts"]["accepted"] > 0
    assert all("\ufffd" in r["question"] and "\ud800" not in r["question"] for r in rows)
    (tmp_path / "surrogate.jsonl").read_text(encoding="utf-8")  # whole, valid UTF-8
