"""The loop (and ``harness eval``) on a served engine: ``eval.backend: openai`` with ``eval.serve_cmd`` starts
the user's serving command (here ``harness serve``, over real loopback HTTP) for each round's checkpoint,
waits until it answers, evaluates, and stops it; no server outlives the run, a failed start, or a ``kill -9``
of the loop. The demo loop through the server makes the same per-cell decisions as through the in-process
hf backend; ``vllm`` evaluations run in a child process that dies with the loop.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_loop_serve.py``
(the demo comparison is marked slow: several minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from harness.cli import main; main()"]
SERVE = f"{sys.executable} -c 'from harness.cli import main; main()' serve --model {{model}} --port {{port}}"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped has finished)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (this test process excluded)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd and _alive(int(d.name)):
                out.append(int(d.name))
    return out


def _wait_gone(pids_of, what: str, limit_s: float = 60) -> None:
    """Poll until ``pids_of()`` is empty (the kernel delivers the death signals within milliseconds;
    ``limit_s`` only bounds a failure)."""
    deadline = time.monotonic() + limit_s
    while pids_of():
        assert time.monotonic() < deadline, f"{what} still running: {pids_of()}"
        time.sleep(0.05)


def test_eval_serve_cmd_serves_evaluates_and_stops(tmp_path, data_dir, tiny_checkpoint):
    out = tmp_path / "run"
    args = ["eval", "--model", str(tiny_checkpoint), "--tasks", "gsm8k", "--limit", "3", "--max-new-tokens", "4",
            "--data-dir", str(data_dir), "--no-progress", "--output-dir", str(out), "--backend", "openai",
            "--serve-cmd", SERVE]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert len((out / "samples.jsonl").read_text().splitlines()) == 3
    log = (out / "server.log").read_text()
    assert f"Serving {tiny_checkpoint} at http://127.0.0.1:" in log
    _wait_gone(lambda: _processes_mentioning(f"--model {tiny_checkpoint} --port"), "the server")
    # a finished run starts no server
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and (out / "server.log").read_text() == log


def test_a_server_that_never_answers_or_exits_is_one_error_with_its_log(tmp_path, tiny_checkpoint):
    task = tmp_path / "t.jsonl"
    task.write_text(json.dumps({"id": "1", "question": "1+1?", "answer": "2"}) + "\n")
    base = ["eval", "--model", str(tiny_checkpoint), "--tasks", str(task), "--backend", "openai", "--no-progress"]
    exits = f"{sys.executable} -c 'import sys; print(\"bad flag {{port}}\"); sys.exit(3)' {{model}}"
    res = CliRunner().invoke(main, base + ["--output-dir", str(tmp_path / "a"), "--serve-cmd", exits])
    assert res.exit_code == 1 and res.output.startswith("Error: the serving command"), res.output
    assert "exited before answering" in res.output and "bad flag" in res.output
    assert "server exited with status 3" in res.output and "Traceback" not in res.output
    # a server that listens nowhere: the startup timeout, then the whole group is stopped
    sleeper = f"{sys.executable} -c 'import time; time.sleep(600)' {{model}} {{port}}"
    res = CliRunner().invoke(main, base + ["--output-dir", str(tmp_path / "b"), "--serve-cmd", sleeper,
                                           "--serve-timeout", "2"])
    assert res.exit_code == 1 and "did not answer at http://127.0.0.1:" in res.output and "serve_timeout" in res.output
    _wait_gone(lambda: _processes_mentioning("time.sleep(600)"), "the stuck server")
    assert not (tmp_path / "b" / "samples.jsonl").exists() or not (tmp_path / "b" / "samples.jsonl").read_text()


def test_kill_9_of_the_loop_takes_its_server_with_it(tmp_path, data_dir, tiny_checkpoint):
    run_dir = tmp_path / "loop"
    env = {**os.environ, "HARNESS_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = CLI + ["loop", "--model", str(tiny_checkpoint), "--tasks", "gsm8k", "--run-dir", str(run_dir),
                 "--no-progress", "--eval", "limit=200", "--eval", "max_new_tokens=64", "--eval", "backend=openai",
                 "--eval", f"serve_cmd={SERVE}", "--eval", f"data_dir={data_dir}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    log = run_dir / "round_00" / "eval" / "server.log"
    try:
        hang = time.monotonic() + 600
        while not (log.is_file() and "Serving " in log.read_text() and (run_dir / "round_00" / "eval" /
                                                                         "samples.jsonl").is_file()):
            assert proc.poll() is None, "the loop ended before its server was up"
            assert time.monotonic() < hang, "the server never came up"
            time.sleep(0.1)
        line = next(x for x in log.read_text().splitlines() if x.startswith("[harness] server pid"))
        server, group = (int(w.strip(",")) for w in line.split()[3::3])
        assert _alive(server) and proc.poll() is None, "the loop finished before the kill"
        os.kill(proc.pid, signal.SIGKILL)  # the loop alone, as a user's kill -9
        proc.wait()
        _wait_gone(lambda: [p for p in (server, group) if _alive(p)], "the server or its guard")
        _wait_gone(lambda: _processes_mentioning(f"--model {tiny_checkpoint} --port"), "a server process")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def test_vllm_evaluations_run_in_a_child_process(tmp_path, data_dir, tiny_checkpoint):
    """The child path gives the in-process results (checked with hf, as vllm needs CUDA), and a vllm
    evaluation goes through it: without vllm installed, its error comes back as one line."""
    from harness.loop import LoopConfig, step_eval

    cfg = LoopConfig(model=str(tiny_checkpoint), tasks=("gsm8k",), run_dir=str(tmp_path),
                     eval={"limit": 2, "max_new_tokens": 4, "data_dir": str(data_dir)}, progress=False)
    here = step_eval(cfg, str(tiny_checkpoint), tmp_path / "here", in_child=False)
    child = step_eval(cfg, str(tiny_checkpoint), tmp_path / "child", in_child=True)
    rows = [[(json.loads(x)["output"], json.loads(x)["correct_strict"])
             for x in (tmp_path / d / "samples.jsonl").read_text().splitlines()] for d in ("here", "child")]
    assert rows[0] == rows[1] and len(rows[0]) == 2
    assert here["output_dir"] == str(tmp_path / "here") and child["output_dir"] == str(tmp_path / "child")
    try:
        import vllm  # noqa: F401
    except ImportError:
        res = CliRunner().invoke(main, ["loop", "--model", str(tiny_checkpoint), "--tasks", "gsm8k", "--run-dir",
                                        str(tmp_path / "v"), "--eval", "backend=vllm", "--eval", "limit=1",
                                        "--eval", f"data_dir={data_dir}", "--no-progress"])
        assert res.exit_code == 1 and "Error: vllm is not installed" in res.output, res.output


@pytest.mark.slow
def test_demo_through_a_served_engine_makes_the_hf_decisions(tmp_path, data_dir):
    """One demo round through ``harness serve`` (a server per round, on a free port) and in-process hf, same
    seeds: the same cells targeted, the same gains and losses, the same reason to stop; no server left."""
    from harness.loop import config_from_mapping, run_loop
    from harness.loop.demo import demo_config

    os.environ.setdefault("HARNESS_DATA_DIR", str(data_dir))
    fields = demo_config(str(tmp_path / "hf"), size="ci", deepspeed="none", progress=False)
    fields = {**fields, "rounds": 1, "progress": False, "budget": 400}  # less training: the decisions are compared
    served_dir = tmp_path / "served"
    runs = {"hf": run_loop(config_from_mapping(fields)),
            "served": run_loop(config_from_mapping({**fields, "run_dir": str(served_dir), "eval": {
                **fields["eval"], "backend": "openai", "serve_cmd": SERVE}}))}
    _wait_gone(lambda: _processes_mentioning(str(served_dir)), "a server of the served loop")

    def decisions(run_dir: Path) -> dict:
        summ = json.loads((run_dir / "round_01" / "summary.json").read_text())
        plan = json.loads((run_dir / "round_01" / "plan.json").read_text())
        return {"targeted": summ["targeted"], "plan": [(c["subject"], c["n_new"], c.get("role")) for c in plan["cells"]],
                "cells": [(c["subject"], c["targeted"], c["significant_gain"], c["significant_loss"])
                          for c in summ["cells"]]}

    hf, served = decisions(tmp_path / "hf"), decisions(served_dir)
    assert hf == served
    assert runs["hf"]["stopped"] == runs["served"]["stopped"]
    assert {t[1] for t in hf["targeted"]} >= {"digits/tens", "digits/parity"}
    for r in (0, 1):
        assert (served_dir / f"round_{r:02d}" / "eval" / "server.log").is_file()
        assert json.loads((served_dir / f"round_{r:02d}" / "eval" / "manifest.json").read_text())["backend"] == "openai"
