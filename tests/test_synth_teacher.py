"""`harness synth` end to end: the generator path through the CLI (rows graded correct, prompt is the
eval template, report counts); the teacher path with the REAL OpenAIBackend against a real loopback
HTTP server (stdlib http.server in a thread) speaking the OpenAI completions protocol with
deterministic teacher replies (agreeing, disagreeing, empty, garbage); and a tiny random HF model as
teacher, whose garbage is counted and skipped, never fatal. Seeds come from the real MATH/GSM8K train split.
Streaming and resumability: `harness synth` with the loopback teacher as a real subprocess, `kill -9` mid-run
(the server holds the second half of the requests until the kill), re-run: same output as an uninterrupted run, and the re-run sends
exactly the requests of the units missing from the sidecar; a finished run re-run sends nothing; a changed
--k is refused. Units stream with a window of requests in flight and give the same records as one request
at a time; a unit's solution request goes out while other new-problem requests are still in flight (the
server holds one problem until a solution request arrives: event-driven, no sleeps). FOBAR sends no
teacher request; each task's train split is loaded once per run.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_synth_teacher.py``
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

import synth.seeds
from harness.answers import grade
from harness.cli import main
from harness.errors import ConfigError
from harness.prompts import get_prompt
from synth.augment import OUTCOMES, TEMPLATES, parse_problem, plan_units, vote
from synth.dedup import build_test_index
from synth.pipeline import SynthConfig, run_synth, sidecar_path
from synth.seeds import select_seeds

REPO = Path(__file__).resolve().parents[1]

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

    prompts: ClassVar[list] = []
    lock = threading.Lock()
    delay = 0.0  # seconds per request
    hold_after: int | None = None  # requests after this many wait for `release` (lets a kill land mid-run)
    release = threading.Event()
    hold_first_problem = False  # the first new-problem request waits until a solution request arrives
    solution_seen = threading.Event()
    held_problem_prompt: str | None = None
    held_released: bool | None = None

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["prompt"]
        with self.lock:
            Teacher.prompts.append(prompt)
            held = Teacher.hold_after is not None and len(Teacher.prompts) > Teacher.hold_after
        if held:
            Teacher.release.wait(timeout=120)
        if "put your final answer within" in prompt:
            Teacher.solution_seen.set()
        elif Teacher.hold_first_problem:
            with self.lock:
                first = Teacher.held_problem_prompt is None
                if first:
                    Teacher.held_problem_prompt = prompt
            if first:  # True: released by a solution request; False: gave up waiting
                Teacher.held_released = Teacher.solution_seen.wait(timeout=30)
        if Teacher.delay:
            time.sleep(Teacher.delay)
        i = zlib.crc32(prompt.encode()) % 1000  # by content, not arrival order: deterministic under concurrency
        n = body.get("n", 1)
        if "put your final answer within" in prompt:  # a solution request
            if "odd" in prompt:
                texts = [f"Work.\nThe answer is $\\boxed{{{j}}}$." for j in range(n)]
            else:
                texts = [f"Step {j}.\nSo $\\boxed{{7}}$." for j in range(n - 1)] + ["I think $\\boxed{8}$."]
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


class QuietServer(ThreadingHTTPServer):
    request_queue_size = 1024  # a window of 256 connects at once (socketserver's default is 5)

    def handle_error(self, request, client_address):  # a killed client's broken pipe is expected here
        pass


@pytest.fixture
def server():
    Teacher.prompts = []
    Teacher.delay = 0.0
    Teacher.hold_after = None
    Teacher.release = threading.Event()
    Teacher.hold_first_problem = False
    Teacher.solution_seen = threading.Event()
    Teacher.held_problem_prompt = None
    Teacher.held_released = None
    srv = QuietServer(("127.0.0.1", 0), Teacher)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    Teacher.release.set()
    Teacher.solution_seen.set()
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
    c = {k: c.get(k, 0) for k in ("units", "teacher_prompts", "built_by_code", "bad_empty", "bad_unparseable",
                                  "no_answer", "disagree", "accepted", "written")}
    assert c["teacher_prompts"] > 0 and c["bad_empty"] > 0 and c["bad_unparseable"] > 0
    assert c["disagree"] > 0 and c["accepted"] > 0 and c["built_by_code"] > 0
    assert c["units"] == c["teacher_prompts"] + c["built_by_code"] == c["bad_empty"] + c["bad_unparseable"] \
        + c["no_answer"] + c["disagree"] + c["accepted"]
    # templates reached the server: each method's wording, and the eval template for solutions;
    # FOBAR problems are built by code, never sent (their solutions are)
    sent = "\n".join(Teacher.prompts)
    assert "Rewrite the problem" in sent or "Rephrase" in sent
    assert "Copy this problem" not in sent
    problem_requests = [x for x in Teacher.prompts if "put your final answer within" not in x]
    assert len(problem_requests) == c["teacher_prompts"]
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
    assert c["units"] == 3 and c.get("accepted", 0) == 0
    assert sum(c.get(o, 0) for o in OUTCOMES if o != "accepted") == 3  # garbage: mostly cut at 16 tokens
    assert (tmp_path / "h.jsonl").read_text() == ""


# --- resumable teacher path -------------------------------------------------------------------

RESUME_PLAN = {"cells": [{"task": "math", "subject": "Number Theory", "level": 2, "n_new": 15},
                         {"task": "math", "subject": "Algebra", "level": 3, "n_new": 12},
                         {"task": "math", "subject": "Prealgebra", "level": 4, "n_new": 9}]}
WINDOW = 5


def _synth_args(plan, out, server, data_dir, k=4):
    return ["synth", "--plan", str(plan), "--out", str(out), "--teacher-backend", "openai", "--teacher-model",
            "teacher", "--teacher-base-url", server, "--k", str(k), "--concurrency", str(WINDOW), "--no-decontam",
            "--no-progress", "--data-dir", str(data_dir)]


def _requests_per_unit(sidecar: Path) -> dict[str, int]:
    """Teacher requests each finished unit took: its problem (unless built by code) and its solutions."""
    from harness.io import read_jsonl_tolerant

    rows, _ = read_jsonl_tolerant(sidecar)  # a kill may have torn the last line
    return {r["key"]: int(r["sent"]) + int(r["question"] is not None) for r in rows if not r.get("header")}


def _sidecar_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_kill9_then_resume_equals_uninterrupted(tmp_path, server, data_dir):
    plan = write_plan(tmp_path, RESUME_PLAN)
    # the reference: one uninterrupted run
    ref = tmp_path / "ref.jsonl"
    res = CliRunner().invoke(main, _synth_args(plan, ref, server, data_dir))
    assert res.exit_code == 0, res.output
    n_ref = len(Teacher.prompts)
    ref_rep = json.loads((tmp_path / "ref.jsonl.report.json").read_text())
    units = ref_rep["counts"]["units"]
    assert units >= 6 * WINDOW and ref_rep["counts"]["accepted"] > 0 and ref_rep["resume"]["units_run"] == units
    cost = _requests_per_unit(sidecar_path(ref))
    assert sum(cost.values()) == n_ref

    # the same command as a real subprocess, killed once some units are on disk while the server holds the
    # requests after the first half (so the kill lands mid-run however fast the client is)
    Teacher.prompts = []
    Teacher.hold_after = n_ref // 2
    out = tmp_path / "out.jsonl"
    side = sidecar_path(out)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()",
                             *_synth_args(plan, out, server, data_dir)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        while _sidecar_lines(side) < 1 + WINDOW:  # header + some finished units
            if proc.poll() is not None:
                pytest.fail(f"synth exited before it could be killed: {proc.stderr.read().decode()[-800:]}")
            if time.monotonic() > deadline:
                pytest.fail("no finished units in the sidecar within 60 s")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        Teacher.hold_after = None
        Teacher.release.set()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    n_first = len(Teacher.prompts)
    finished = set(_requests_per_unit(side))
    done_before = len(finished)
    assert WINDOW <= done_before < units
    with side.open("ab") as f:  # the worst case too: a torn, half-written last line
        f.write(b'{"key": "math/Algebra/3|normal|train/1')

    Teacher.prompts = []
    res = CliRunner().invoke(main, _synth_args(plan, out, server, data_dir))
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "out.jsonl.report.json").read_text())
    assert rep["resume"]["units_loaded"] == done_before and rep["resume"]["torn_bytes_cut"] > 0
    assert rep["resume"]["units_loaded"] + rep["resume"]["units_run"] == units
    assert out.read_text() == ref.read_text()  # same rows, same order
    assert rep["counts"] == ref_rep["counts"]  # rebuilt from the sidecar: nothing counted twice
    print(f"units={units} done_before_kill={done_before} requests: uninterrupted={n_ref} killed_run={n_first} "
          f"rerun={len(Teacher.prompts)}")
    # the re-run sends exactly the requests of the units that were not on disk: nothing finished is redone
    assert len(Teacher.prompts) == sum(c for k, c in cost.items() if k not in finished)
    assert _sidecar_lines(side) == 1 + units

    # a finished run re-run sends nothing and writes the same output
    Teacher.prompts = []
    res = CliRunner().invoke(main, _synth_args(plan, out, server, data_dir))
    assert res.exit_code == 0, res.output
    assert Teacher.prompts == [] and out.read_text() == ref.read_text()

    # a changed --k refuses to mix with the sidecar: one error line, nothing sent, sidecar untouched
    before = side.read_bytes()
    res = CliRunner().invoke(main, _synth_args(plan, out, server, data_dir, k=3))
    assert res.exit_code == 1
    err = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1 and "k (4 -> 3)" in err[0] and "new --out" in err[0] and str(side) in err[0], res.output
    assert Teacher.prompts == [] and side.read_bytes() == before


@pytest.mark.slow
def test_streamed_units_equal_one_request_at_a_time(tmp_path, server, data_dir):
    plan = write_plan(tmp_path, RESUME_PLAN)
    outs = {}
    for window in (1, 16):
        out = tmp_path / f"w{window}.jsonl"
        cfg = SynthConfig(teacher_backend="openai", teacher_model="teacher", teacher_base_url=server, k=4,
                          data_dir=str(data_dir), decontam=False, concurrency=window)
        rep = run_synth(plan, out, cfg)
        side = [json.loads(x) for x in sidecar_path(out).read_text().splitlines()[1:]]
        outs[window] = (out.read_text(), rep["counts"], {r["key"]: r for r in side}, [r["key"] for r in side])
    assert outs[1][0] == outs[16][0] and outs[1][0]  # same rows, in unit order
    assert outs[1][1] == outs[16][1]
    assert outs[1][2] == outs[16][2]  # every unit's record identical
    assert outs[1][3] != outs[16][3]  # though the sidecar was written in another (completion) order


def test_solution_requests_go_out_while_other_problems_are_in_flight(server):
    """All new-problem requests fit in the window; the server holds the first one until a solution request
    arrives, so the run finishes (and the held problem is answered) only if the owed solution requests of
    the answered problems are sent while that problem is still in flight, not after the stream drains."""
    from harness.backends import make_backend
    from harness.data import Problem
    from synth.augment import run_units

    Teacher.hold_first_problem = True
    seeds = [(Problem(f"train/{i}", f"A farmer has {i + 3} cows and buys {2 * i + 1} more. How many now?", "1"),
              {"task": "math", "subject": "Algebra", "level": 2}, "normal") for i in range(10)]
    units, _ = plan_units(seeds, ["evol"], seed=0)
    backend = make_backend("openai", model="teacher", base_url=(server,), window=16, request_timeout=120,
                           batch_size=1)
    try:
        recs = list(run_units(units, backend, k=4, window=16))
    finally:
        backend.close()
    assert sorted(r["key"] for r in recs) == sorted(u.key for u in units)
    # a solution request reached the server while the held problem was in flight, and released it
    assert Teacher.held_problem_prompt is not None and Teacher.held_released is True
    held = next(r for r in recs if r["key"] == units[[u.prompt for u in units].index(Teacher.held_problem_prompt)].key)
    assert held["teacher_text"] is not None  # the held problem was answered (not dropped) after the solutions


def test_fobar_units_are_built_by_code(data_dir):
    seeds = [(p, RESUME_PLAN["cells"][0], "normal") for p in select_seeds(RESUME_PLAN["cells"][0], 30,
                                                                            data_dir=data_dir)]
    units, _ = plan_units(seeds, ["metamath"], seed=0)
    fobar = [u for u in units if u.by_code]
    assert fobar and len(fobar) < len(units)
    for u in fobar:
        assert u.template.name == "metamath/fobar" and u.known is not None
        assert parse_problem("", u.template, u.prompt).endswith("what is the value of the unknown variable X?")
    # the unit plan is stable: same keys, templates and prompts on a re-plan, and in any seed order
    again, _ = plan_units(list(reversed(seeds)), ["metamath"], seed=0)
    assert {(u.key, u.template.name, u.prompt) for u in again} == {(u.key, u.template.name, u.prompt) for u in units}


def test_train_split_loaded_once_per_run(tmp_path, data_dir, monkeypatch):
    calls = []
    real = synth.seeds.load_task

    def counting_load_task(*a, **kw):
        calls.append(a)
        return real(*a, **kw)

    monkeypatch.setattr(synth.seeds, "load_task", counting_load_task)
    cache: dict = {}
    picked = [select_seeds(c, 3, data_dir=data_dir, cache=cache) for c in RESUME_PLAN["cells"]]
    assert len(calls) == 1 and list(cache) == ["math"]
    assert [len(p) for p in picked] == [3, 3, 3]
    assert picked[2] == select_seeds(RESUME_PLAN["cells"][2], 3, data_dir=data_dir)  # same pick as uncached
