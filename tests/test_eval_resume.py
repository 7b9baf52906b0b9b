"""Resumable runs of the streaming runner: `kill -9` mid-run then re-run regenerates exactly the missing
samples, loses nothing and duplicates nothing; a torn last line is cut before appending; a changed config
is refused; shards + `harness merge` equal one unsharded run. Real subprocesses; the kill test runs against a
loopback server that holds requests past the first few (the kill lands at a known point, not a moment), the
others on a real tiny HF checkpoint.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_eval_resume.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.eval import EvalConfig, evaluate
from harness.records import load_run, sample_key

REPO = Path(__file__).resolve().parents[1]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


class NoGenerate:
    """A backend that must not be called (a finished run resumes without generating)."""

    name = "none"

    def generate(self, prompts, params):
        raise AssertionError(f"generate called for {len(prompts)} prompts on a finished run")

    def close(self):
        pass


class GatedServer:
    """A loopback OpenAI-compatible server that answers the first ``free`` requests at once and holds
    every later one until :attr:`open` is set: a run killed while it waits has exactly ``free`` samples."""

    def __init__(self, free: int) -> None:
        self.free, self.served, self.open = free, 0, threading.Event()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.served += 1
                    held = outer.served > outer.free
                if held:
                    outer.open.wait(120)
                text = f"Adding them up. The answer is {len(body['prompt']) % 97}."
                raw = json.dumps({"choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                                  "usage": {"prompt_tokens": 10, "completion_tokens": 7}}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client was killed while this request was held
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # a window of 256 connects at once (socketserver's default is 5)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.open.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.slow
def test_kill9_then_resume(tmp_path, data_dir):
    out = tmp_path / "run"
    limit, free = 30, 6
    server = GatedServer(free)
    args = ["eval", "--model", "m", "--backend", "openai", "--base-url", server.url, "--tasks", "gsm8k",
            "--limit", str(limit), "--max-new-tokens", "40", "--data-dir", str(data_dir), "--output-dir", str(out),
            "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", *args], env=env,
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    samples = out / "samples.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (samples.exists() and len(_lines(samples)) >= free):  # the free answers, flushed
            if proc.poll() is not None:
                pytest.fail(f"eval exited before it could be killed: {proc.stderr.read().decode()[-500:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{free} samples did not appear within 120 s")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        before = _lines(samples)
        complete = [ln for ln in before if ln.endswith(b"\n")]
        assert len(complete) == free  # the held requests never came back: nothing else was written
        # simulate the worst case too: a torn, half-written last line
        with samples.open("ab") as f:
            f.write(b'{"task": "gsm8k", "id": "test/39", "sample_i')
        server.open.set()
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
        assert f"generated {limit - free} samples this run" in res.stdout  # only what was missing
        after = _lines(samples)
        assert len(after) == limit
        assert after[:free] == complete  # finished records kept byte-identical, first
        keys = [sample_key(json.loads(ln)) for ln in after]
        assert len(set(keys)) == limit
        assert sorted(k[1] for k in keys) == sorted(f"test/{i}" for i in range(limit))
        assert load_run(out).n_bad_lines == 0
        assert json.loads((out / "results.json").read_text())["tasks"]["gsm8k"]["strict"]["n"] == limit
        # a finished run re-run generates nothing
        cfg = EvalConfig(model="m", backend="openai", base_url=(server.url,), tasks=("gsm8k",), limit=limit,
                         max_new_tokens=40, data_dir=str(data_dir), output_dir=str(out))
        assert evaluate(cfg, backend=NoGenerate(), progress=False)["generation"]["samples"] == 0
        assert _lines(samples) == after
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()


@pytest.mark.slow
def test_changed_config_refused(tmp_path, data_dir, tiny_checkpoint):
    out = tmp_path / "run"
    base = ["eval", "--model", str(tiny_checkpoint), "--tasks", "math500", "--limit", "2", "--data-dir",
            str(data_dir), "--output-dir", str(out), "--no-progress"]
    assert CliRunner().invoke(main, base + ["--max-new-tokens", "4"]).exit_code == 0
    before = (out / "samples.jsonl").read_bytes()
    res = CliRunner().invoke(main, base + ["--max-new-tokens", "5", "--seed", "3"])
    assert res.exit_code == 1
    err = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1
    assert "sampling.max_new_tokens (4 -> 5)" in err[0] and "sampling.seed (0 -> 3)" in err[0]
    assert "new --output-dir" in err[0]
    assert (out / "samples.jsonl").read_bytes() == before
    # batch size and concurrency are not part of the config: other values resume fine
    assert CliRunner().invoke(main, base + ["--max-new-tokens", "4", "--batch-size", "1", "--concurrency", "3"]
                              ).exit_code == 0


def _sample_set(run_dir: Path) -> dict:
    return {sample_key(s): (s["output"], s["correct_strict"], s["correct_flexible"], s["prompt"])
            for s in load_run(run_dir).samples}


@pytest.mark.slow
def test_shards_merge_equal_unsharded(tmp_path, data_dir, tiny_checkpoint):
    def run(out, *extra):
        res = CliRunner().invoke(main, [
            "eval", "--model", str(tiny_checkpoint), "--tasks", "math500,gsm8k", "--limit", "5", "--max-new-tokens",
            "6", "--batch-size", "3", "--data-dir", str(data_dir), "--output-dir", str(out), "--no-progress", *extra])
        assert res.exit_code == 0, res.output

    run(tmp_path / "full")
    run(tmp_path / "s0", "--shard", "0/2")
    run(tmp_path / "s1", "--shard", "1/2")
    s0, s1 = _sample_set(tmp_path / "s0"), _sample_set(tmp_path / "s1")
    assert s0 and s1 and not set(s0) & set(s1)
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "merged"), str(tmp_path / "s0"), str(tmp_path / "s1"),
                                    "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert "missing" not in res.stderr
    assert _sample_set(tmp_path / "merged") == _sample_set(tmp_path / "full")
    full_m = json.loads((tmp_path / "full" / "manifest.json").read_text())
    merged_m = json.loads((tmp_path / "merged" / "manifest.json").read_text())
    assert merged_m["config_hash"] == full_m["config_hash"] and merged_m["shard"] is None
    rf = json.loads((tmp_path / "full" / "results.json").read_text())["tasks"]
    rm = json.loads((tmp_path / "merged" / "results.json").read_text())["tasks"]
    assert {t: r["strict"] for t, r in rf.items()} == {t: r["strict"] for t, r in rm.items()}

    # one shard only: the other shard's problems are reported missing
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "half"), str(tmp_path / "s0"), "--data-dir",
                                    str(data_dir)])
    assert res.exit_code == 0
    assert "missing from gsm8k: 2 problems (test/1, test/3)" in res.stderr

    # overlapping shards that disagree are refused
    rec = json.loads((tmp_path / "s1" / "samples.jsonl").read_text().splitlines()[0])
    rec["output"] += " different"
    dup = tmp_path / "dup"
    shutil.copytree(tmp_path / "s1", dup)
    (dup / "samples.jsonl").write_text(json.dumps(rec) + "\n")
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "m3"), str(tmp_path / "s0"), str(tmp_path / "s1"),
                                    str(dup)])
    assert res.exit_code == 1 and "disagree" in res.stderr
    # runs of different configs are refused
    run(tmp_path / "other", "--shard", "1/2", "--seed", "5")
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "m4"), str(tmp_path / "s0"), str(tmp_path / "other")])
    assert res.exit_code == 1 and "sampling.seed" in res.stderr
