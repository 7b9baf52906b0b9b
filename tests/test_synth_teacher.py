"""`harness synth` end to end: the generator path through the CLI (rows graded correct, prompt is the
eval template, report counts); the teacher path with the REAL OpenAIBackend against a real loopback
HTTP server (stdlib http.server in a thread) speaking the OpenAI completions protocol with
deterministic teacher replies (agreeing, disagreeing, empty, garbage); and a tiny random HF model as
teacher, whose garbage is counted and skipped, never fatal. Seeds come from the real MATH/GSM8K train split.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_synth_teacher.py``
"""

from __future__ import annotations

import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from harness.answers import grade
from harness.cli import main
from harness.errors import ConfigError
from harness.prompts import get_prompt
from synth.augment import TEMPLATES, parse_problem, vote
from synth.dedup import build_test_index
from synth.pipeline import SynthConfig, run_synth
from synth.seeds import select_seeds

PLAN = {"cells": [{"task": "math", "subject": "Number Theory", "level": 2, "n_new": 6},
                  {"task": "gsm8k", "subject": "GSM8K", "level": None, "n_new": 3}]}


def write_plan(tmp_path, plan=PLAN):
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(plan))
    return p


@pytest.mark.slow
def test_generator_path_cli(tmp_path, data_dir):
    out = tmp_path / "sft.jsonl"
    res = CliRunner().invoke(main, ["synth", "--plan", str(write_plan(tmp_path)), "--out", str(out),
                                    "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 9 and "decontam n" in res.output
    tmpl = get_prompt("qwen-boxed")
    for r in rows:
        assert r["prompt"] == tmpl.render(r["question"], 0).text
        assert grade(r["response"], r["answer"], r["task"]).correct, r
        assert r["provenance"]["method"] == "generator" and r["prompt_version"] == tmpl.version
    topics = {r["provenance"]["generator"] for r in rows}
    assert len(topics) >= 4  # several generators per cell
    rep = json.loads((tmp_path / "sft.jsonl.report.json").read_text())
    assert rep["counts"]["written"] == 9 and rep["decontam"]["n"] == 30


def test_empty_plan_and_test_split_seeds_refused(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="no cells"):
        run_synth(write_plan(tmp_path, {"cells": []}), tmp_path / "o.jsonl", SynthConfig(decontam=False))
    with pytest.raises(ConfigError, match="train split"):
        select_seeds(PLAN["cells"][0], 3, split="test", data_dir=data_dir)


def test_seeds_are_train_and_diverse(data_dir):
    seeds = select_seeds({"task": "math500", "subject": "Geometry", "level": 5}, 8, data_dir=data_dir)
    assert len(seeds) == 8 and all(p.id.startswith("train/") and p.level == 5 for p in seeds)
    assert len({p.question for p in seeds}) == 8


def test_parse_and_vote():
    t = TEMPLATES["evol/same"]
    assert parse_problem("New problem: What is the sum of 12 and 30 apples?\nSolution: 42", t) == \
        "What is the sum of 12 and 30 apples?"
    assert parse_problem("", t) is None and parse_problem("#$%^&*(", t) is None
    x = TEMPLATES["xwin/generate-verify-correct"]
    assert parse_problem(" How many primes are below 20 in total?\nVerification: fine.\nCorrected problem: none", x) \
        == "How many primes are below 20 in total?"
    assert vote(["7", "8", "7", "7"], "math") == ("7", 0.75, 0)
    assert vote(["2", "3", None, "2"], "math")[:2] == (None, 0.5)  # a tie is no majority
    assert vote([None, None], "math") == (None, 0.0, -1)


# --- a real loopback OpenAI-compatible teacher ------------------------------------------------


class Teacher(BaseHTTPRequestHandler):
    """Deterministic teacher (by a hash of the prompt): rewrites get a new problem, or an empty reply
    (hash % 5 == 0), or garbage (hash % 5 == 1);
    solutions: problems mentioning 'odd' get disagreeing answers, others agree (3 of 4) on 7."""

    prompts: list = []
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["prompt"]
        with self.lock:
            Teacher.prompts.append(prompt)
        i = zlib.crc32(prompt.encode()) % 1000  # by content, not arrival order: deterministic under concurrency
        n = body.get("n", 1)
        if "put your final answer within" in prompt:  # a solution request
            if "odd" in prompt:
                texts = [f"Work.\nThe answer is $\\boxed{{{j}}}$." for j in range(n)]
            else:
                texts = ["Step 1.\nSo $\\boxed{7}$."] * (n - 1) + ["I think $\\boxed{8}$."]
        elif i % 5 == 0:
            texts = [""]
        elif i % 5 == 1:
            texts = ["%%%% ### ~~"]
        else:
            kind = "odd" if i % 5 == 2 else "even"
            texts = [f"Sure.\nNew problem: A shop sells {i} {kind} pencils to 7 students every day. How many?"]
        data = {"choices": [{"index": j, "text": t, "finish_reason": "stop"} for j, t in enumerate(texts)],
                "usage": {"completion_tokens": 5, "prompt_tokens": 5}}
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def server():
    Teacher.prompts = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Teacher)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


@pytest.mark.slow
def test_teacher_path_openai_loopback(tmp_path, server, data_dir):
    out = tmp_path / "t.jsonl"
    cfg = SynthConfig(teacher_backend="openai", teacher_model="teacher", teacher_base_url=server, k=4,
                      data_dir=str(data_dir), methods=("metamath", "evol", "xwin"))
    plan = {"cells": [{**PLAN["cells"][0], "n_new": 15}, {**PLAN["cells"][1], "n_new": 9}]}
    rep = run_synth(write_plan(tmp_path, plan), out, cfg, test_index=build_test_index([], ns=(10, 13, 20, 30)))
    c = rep["counts"]
    c = {k: c.get(k, 0) for k in ("teacher_prompts", "bad_empty", "bad_unparseable", "no_answer", "disagree",
                                  "accepted", "written")}
    assert c["teacher_prompts"] > 0 and c["bad_empty"] > 0 and c["bad_unparseable"] > 0
    assert c["disagree"] > 0 and c["accepted"] > 0
    assert c["teacher_prompts"] == c["bad_empty"] + c["bad_unparseable"] + c["no_answer"] + c["disagree"] \
        + c["accepted"]
    # templates reached the server: each method's wording, and the eval template for solutions
    sent = "\n".join(Teacher.prompts)
    assert "Rewrite the problem" in sent or "Rephrase" in sent or "Copy this problem" in sent
    assert "Verification:" in sent and get_prompt("qwen-boxed").render("x").text.split("x")[0] in sent
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and len(rows) == c["written"]
    for r in rows:
        assert grade(r["response"], r["answer"], r["task"]).correct
        assert r["provenance"]["agreement"] == 0.75 and "odd" not in r["question"]
        assert r["provenance"]["stage"] in ("normal", "hard") and r["provenance"]["seed_id"].startswith("train")


@pytest.mark.slow
def test_tiny_hf_teacher_garbage_is_counted(tmp_path, tiny_checkpoint, data_dir):
    plan = {"cells": [{"task": "math", "subject": "Algebra", "level": 1, "n_new": 3}]}
    cfg = SynthConfig(teacher_backend="hf", teacher_model=str(tiny_checkpoint), k=2, max_new_tokens=16,
                      data_dir=str(data_dir), methods=("evol", "xwin", "metamath"))
    rep = run_synth(write_plan(tmp_path, plan), tmp_path / "h.jsonl", cfg,
                    test_index=build_test_index([], ns=(10, 13, 20, 30)))
    c = rep["counts"]
    assert c["teacher_prompts"] == 3 and c.get("accepted", 0) == 0
    assert c.get("bad_empty", 0) + c.get("bad_unparseable", 0) + c.get("no_answer", 0) + c.get("disagree", 0) == 3
    assert (tmp_path / "h.jsonl").read_text() == ""
