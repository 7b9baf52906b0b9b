"""Faults and bad input, round 2 (issue 20 items 1-4, 7-9, 11): no sample lost or made up.

What must hold, each checked on real files, a real loopback HTTP server (scripted per request, raw
bytes included) and the real CLI, in-process or as a subprocess:

- a 200 reply whose text holds a lone surrogate (JSON ``"\\ud800"``) is stored with U+FFFD and flagged
  (``replaced_chars``); no good sample is lost and the run finishes;
- a write that fails part-way (a real full disk: a tiny tmpfs, when this machine lets the test mount
  one; else the inner ``os.write`` patched to fail) is cut back to whole lines, its rows stay queued and
  the retry writes each row once;
- a full disk during ``harness eval`` is one ``Error:`` line naming the file and the free space, exit 1,
  no traceback; after space is freed the same command finishes with every sample once;
- ``--request-timeout inf`` / ``nan`` are refused by the option's declaration;
- a truncated or empty manifest.json over intact samples is rebuilt from the command's config (and
  refused, saying how to recover, when the samples do not match it); an inserted garbage line does not
  claim samples are regenerated; ``sample_idx: "zero"`` is reported as a bad value;
- a reply cut off mid-body is not "could not reach"; a timeout points at ``--request-timeout``;
- more than 5% of a task's samples at the token limit ends the report and the console with one warning;
- ``harness train --resume`` over a changed data file is refused naming the file, and train_config.json
  keeps its first record.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_faults_round2.py``.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

REPO = Path(__file__).resolve().parents[1]
WAIT = 30  # seconds: an upper bound on waiting for an event, never a sleep


# --- a scripted loopback server ----------------------------------------------------------------------


def reply(text: str, finish: str = "stop") -> bytes:
    return json.dumps({"choices": [{"index": 0, "text": text, "finish_reason": finish}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 7}}).encode()


class Server:
    """A ``ThreadingHTTPServer`` on 127.0.0.1: ``script(prompt, handler)`` returns the raw body of a 200
    reply, or None after writing the reply itself on ``handler``. ``prompts`` lists what was asked."""

    def __init__(self, script: Callable[[str, BaseHTTPRequestHandler], bytes | None]) -> None:
        self.prompts: list[str] = []
        self.release = threading.Event()  # set at the end: lets held requests go
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.prompts.append(body["prompt"])
                raw = script(body["prompt"], self)
                if raw is None:
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass

        class Srv(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.srv = Srv(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_port}/v1"
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def server():
    started: list[Server] = []

    def start(script=lambda prompt, h: reply(f"Adding up. The answer is {len(prompt) % 7}.")) -> Server:
        started.append(Server(script))
        return started[-1]

    yield start
    for s in started:
        s.close()


def eval_args(url: str, out: Path, data_dir: Path, limit: int = 6, *more: str) -> list[str]:
    return ["eval", "--model", "m", "--backend", "openai", "--base-url", url, "--tasks", "gsm8k", "--limit",
            str(limit), "--data-dir", str(data_dir), "--output-dir", str(out), "--no-progress",
            "--backend-arg", "backoff=0.01", *more]


def rows(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "the log must hold whole lines only"
    return [json.loads(x) for x in raw.decode("utf-8").splitlines()]


def error_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("Error:")]


# --- item 1: a lone surrogate ------------------------------------------------------------------------


def test_lone_surrogate_reply_is_stored_replaced_and_flagged(server, tmp_path, data_dir):
    """Before: writing the group raised UnicodeEncodeError and every sample of it was lost, on every rerun."""
    first: list[str] = []

    def script(prompt, h):
        if not first:
            first.append(prompt)
        if prompt == first[0]:  # JSON-escaped lone surrogate, as a server sends it
            return b'{"choices": [{"index": 0, "text": "Step \\ud800 done. The answer is 4.", "finish_reason": "stop"}]}'
        return reply("The answer is 4.")

    srv = server(script)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, eval_args(srv.url, out, data_dir, 6, "--concurrency", "1"))
    assert res.exit_code == 0, res.output
    samples = rows(out / "samples.jsonl")
    assert len(samples) == 6 and len({s["id"] for s in samples}) == 6
    flagged = [s for s in samples if s.get("replaced_chars")]
    assert len(flagged) == 1 and flagged[0]["output"] == "Step \ufffd done. The answer is 4."
    assert flagged[0]["replaced_chars"] == 1 and flagged[0]["extracted_strict"] == "4"
    assert json.loads((out / "results.json").read_text())["tasks"]["gsm8k"]["n_samples"] == 6


def test_text_utf8_cannot_hold_is_still_written_and_reads_back(tmp_path):
    """The last guard: a record holding a lone surrogate (from any source) is written with a \\u escape,
    never dropped, and reads back as it was."""
    from harness.io import ResumableLog

    with ResumableLog(tmp_path / "w.jsonl", what="t", fix="f") as lg:
        lg.append([{"k": 1, "t": "a\ud800b"}, {"k": 2, "t": "ok"}])
        got, bad = lg.read()
    assert bad == 0 and got == [{"k": 1, "t": "a\ud800b"}, {"k": 2, "t": "ok"}]


# --- items 2 and 3: full disk, part-way writes -----------------------------------------------------------


def _check_group_retry(path: Path, fail_once: Callable[[], None], restore: Callable[[], None]) -> None:
    from harness.errors import StorageError
    from harness.io import ResumableLog

    first = [{"i": i, "pad": "x" * 900} for i in range(3)]
    group = [{"i": i, "pad": "y" * 900} for i in range(3, 30)]
    with ResumableLog(path, what="t", fix="f") as lg:
        lg.append(first)
        fail_once()
        with pytest.raises(StorageError) as e:
            lg.append(group)
        assert str(path) in str(e.value) and "free there" in str(e.value)
        assert [r["i"] for r in rows(path)] == [0, 1, 2]  # cut back to the last whole line
        restore()
        lg.flush()  # the retry: the queued rows, once
    assert [r["i"] for r in rows(path)] == list(range(30))


def test_part_way_write_on_a_full_disk_is_cut_back_and_retried_once(small_disk):
    """Before: the retry left a malformed line mid-file and wrote the group's rows twice."""
    mnt = small_disk(16 * 1024)
    _check_group_retry(mnt / "work.jsonl", lambda: None, lambda: small_disk.grow(1 << 20))


def test_part_way_write_is_cut_back_and_retried_once_patched(tmp_path, monkeypatch):
    """The same, where no tmpfs can be mounted: the inner ``os.write`` writes half the group, then fails."""
    import harness.io

    real = os.write
    state = {"armed": False}

    def half_then_full(fd, data):
        if state["armed"]:
            state["armed"] = False
            real(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(harness.io.os, "write", half_then_full)
    _check_group_retry(tmp_path / "work.jsonl", lambda: state.update(armed=True), lambda: None)


def test_disk_full_during_eval_is_one_error_line_and_resume_is_exact(server, small_disk, data_dir):
    """Before: two raw ``OSError: [Errno 28]`` tracebacks (timer thread, then the flush at exit)."""
    srv = server(lambda prompt, h: reply("Adding up step by step. " * 20 + "The answer is 3."))
    mnt = small_disk(160 * 1024)  # room for the first group of 64 samples (about 1.5 kB each), not the next
    out = mnt / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "from harness.cli import main; main()",
           *eval_args(srv.url, out, data_dir, 200, "--concurrency", "4")]
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(error_lines(r.stderr)) == 1, r.stderr
    err = error_lines(r.stderr)[0]
    assert "samples.jsonl" in err and "No space left on device" in err and "free there" in err
    kept = rows(out / "samples.jsonl")
    assert 0 < len(kept) < 200
    small_disk.grow(4 << 20)
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    done = rows(out / "samples.jsonl")
    assert len(done) == 200 and len({s["id"] for s in done}) == 200
    assert done[: len(kept)] == kept  # earlier lines untouched


# --- item 4: non-finite floats ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_request_timeout_is_refused_by_the_declaration(server, tmp_path, data_dir, value):
    """Before: ``inf`` passed the config check and crashed in aiohttp (OverflowError)."""
    from harness.errors import ConfigError
    from harness.eval import EvalConfig
    from harness.options import from_mapping

    with pytest.raises(ConfigError, match="request.timeout"):
        from_mapping(EvalConfig, {"model": "m", "request_timeout": float(value)})
    srv = server()
    res = CliRunner().invoke(main, eval_args(srv.url, tmp_path / "run", data_dir, 2, "--request-timeout", value))
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "request" in error_lines(res.output)[0] and not srv.prompts


# --- item 7: recoverable state ------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_manifest_is_rebuilt_when_the_samples_match(server, tmp_path, data_dir, damage):
    """Before: "manifest.json is not valid JSON ...; use a new --output-dir" with every sample intact."""
    srv = server()
    out = tmp_path / "run"
    args = eval_args(srv.url, out, data_dir, 4)
    assert CliRunner().invoke(main, args).exit_code == 0
    before = (out / "samples.jsonl").read_bytes()
    good = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text((out / "manifest.json").read_text()[:40] if damage == "truncated" else "")
    asked = len(srv.prompts)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    rebuilt = json.loads((out / "manifest.json").read_text())
    assert rebuilt["config_hash"] == good["config_hash"] and "rebuilt" in rebuilt
    assert (out / "samples.jsonl").read_bytes() == before and len(srv.prompts) == asked


def test_damaged_manifest_with_samples_of_another_command_says_how_to_recover(server, tmp_path, data_dir):
    srv = server()
    out = tmp_path / "run"
    assert CliRunner().invoke(main, eval_args(srv.url, out, data_dir, 4)).exit_code == 0
    (out / "manifest.json").write_text("{")
    res = CliRunner().invoke(main, eval_args(srv.url, out, data_dir, 2))
    assert res.exit_code == 1
    err = error_lines(res.output)[0]
    assert "not in this command's selection" in err and "re-run the command that made it" in err
    assert "new --output-dir" in err


def test_garbage_line_does_not_claim_samples_are_regenerated(server, tmp_path, data_dir, caplog):
    """Before: "N malformed line(s) ignored; their samples are regenerated" though nothing was missing."""
    srv = server()
    out = tmp_path / "run"
    args = eval_args(srv.url, out, data_dir, 4)
    assert CliRunner().invoke(main, args).exit_code == 0
    lines = (out / "samples.jsonl").read_text().splitlines(keepends=True)
    (out / "samples.jsonl").write_text("".join(lines[:2] + ["garbage{\n"] + lines[2:]))
    asked = len(srv.prompts)
    with caplog.at_level("WARNING", logger="harness.eval"):
        assert CliRunner().invoke(main, args).exit_code == 0
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "1 malformed line" in text and "no sample is missing" in text and "regenerated" not in text
    assert len(srv.prompts) == asked


def test_bad_sample_idx_is_a_bad_value_not_a_missing_field(server, tmp_path, data_dir):
    srv = server()
    out = tmp_path / "run"
    args = eval_args(srv.url, out, data_dir, 3)
    assert CliRunner().invoke(main, args).exit_code == 0
    lines = (out / "samples.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    row["sample_idx"] = "zero"
    lines[1] = json.dumps(row)
    (out / "samples.jsonl").write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    err = error_lines(res.output)[0]
    assert "samples.jsonl:2" in err and "sample_idx" in err and "'zero'" in err and "lacks" not in err


# --- item 8: messages ------------------------------------------------------------------------------


def test_reply_cut_off_mid_body_is_not_called_unreachable(server):
    """Before: "could not reach ... is the server running?" although the server answered."""
    from harness.backends.base import Request, SamplingParams
    from harness.backends.openai import OpenAIBackend
    from harness.errors import BackendError

    def cut(prompt, h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "5000")
        h.end_headers()
        h.wfile.write(b'{"choices": [{"index": 0, "text": "The ans')
        h.wfile.flush()
        h.connection.shutdown(socket.SHUT_RDWR)
        return None

    srv = server(cut)
    be = OpenAIBackend(model="m", base_url=srv.url, max_retries=2, backoff=0.01, timeout=WAIT)
    with pytest.raises(BackendError) as e:
        list(be.stream([Request(0, "q", SamplingParams(max_new_tokens=8))]))
    msg = str(e.value)
    assert "could not reach" not in msg and "is the server running" not in msg
    assert "cut off" in msg and "HTTP 200" in msg and srv.url in msg and len(srv.prompts) == 2


def test_timeout_message_names_request_timeout(server):
    from harness.backends.base import Request, SamplingParams
    from harness.backends.openai import OpenAIBackend
    from harness.errors import BackendError

    holder: dict = {}

    def hold(prompt, h):
        holder["srv"].release.wait(WAIT)  # held until the test ends; the client's timeout fires first
        return None

    srv = server(hold)
    holder["srv"] = srv
    be = OpenAIBackend(model="m", base_url=srv.url, max_retries=1, timeout=0.3)
    with pytest.raises(BackendError) as e:
        list(be.stream([Request(0, "q", SamplingParams(max_new_tokens=8))]))
    assert "--request-timeout" in str(e.value) and "--backend-arg" not in str(e.value)


# --- item 9: truncation -----------------------------------------------------------------------------


@pytest.mark.parametrize("cut,limit,warned", [(2, 6, True), (1, 20, False), (0, 4, False)])
def test_truncation_above_five_percent_ends_report_and_console_with_one_warning(server, tmp_path, data_dir,
                                                                               cut, limit, warned):
    """Before: a run where a third of the samples stopped at the limit printed no word about it."""
    seen: list[str] = []

    def script(prompt, h):
        seen.append(prompt)
        return reply("Let me think step by", "length") if len(seen) <= cut else reply("The answer is 2.")

    srv = server(script)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, eval_args(srv.url, out, data_dir, limit, "--concurrency", "1",
                                             "--max-new-tokens", "64"))
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    warnings = [ln for ln in res.output.splitlines() if "WARNING" in ln]
    if not warned:
        assert "warnings" not in results and not warnings
        return
    assert len(results["warnings"]) == 1 and len(warnings) == 1
    w = warnings[0]
    assert res.output.rstrip().endswith(w) and w == results["warnings"][0]
    assert f"gsm8k {cut / limit:.1%}" in w and "--max-new-tokens" in w and "64 tokens" in w
    from harness.records import load_run
    from harness.reports import format_tables, summarize

    assert format_tables(summarize(load_run(out))).rstrip().endswith(w)


# --- item 11: training resumed on changed data --------------------------------------------------------


def _sft_rows(path: Path, n: int, offset: int) -> Path:
    from harness.prompts import get_prompt

    t = get_prompt("qwen-boxed")
    path.write_text("".join(json.dumps({"prompt": t.render(f"What is {a}+{a}?").text,
                                        "response": t.format_response(f"{a}+{a}={2 * a}.", str(2 * a))}) + "\n"
                            for a in range(offset, offset + n)))
    return path


@pytest.mark.slow
def test_train_resume_on_changed_data_is_refused_naming_the_file(tiny_checkpoint, tmp_path):
    """Before: the resume trained the remaining steps on the new content, exit 0, and train_config.json
    was rewritten with only the new hash."""
    data = _sft_rows(tmp_path / "sft.jsonl", 16, 1)
    out = tmp_path / "ckpt"
    args = ["train", "--model", str(tiny_checkpoint), "--data", str(data), "--output", str(out),
            "--deepspeed", "none", "--batch-size", "4", "--global-batch", "4", "--epochs", "1",
            "--max-length", "512", "--save-steps", "2", "--max-steps", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-c", "from harness.cli import main; main()"]
    r = subprocess.run(cli + args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    first = (out / "train_config.json").read_text()
    _sft_rows(data, 16, 50)  # same path, other content
    r = subprocess.run(cli + [*args, "--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    err = error_lines(r.stderr)
    assert len(err) == 1 and str(data) in err[0] and "data_sha256" in err[0], err
    assert "refusing to mix results" in err[0] and "new --output" in err[0]
    assert (out / "train_config.json").read_text() == first
