"""The newcomer's path (issue 21 item 10): a failed start leaves nothing behind, and one rule for a
missing benchmark data folder, with an error that says how to get the data.

What: ``harness eval --backend nope`` and an eval whose model is not there leave no run folder (before:
one holding only ``run.lock`` and ``samples.jsonl.lock``); lock files are removed on release, also against
a taker that opened the old file just before (:class:`harness.io.RemovedLock`); a data folder that was
named but does not exist stops ``harness tasks``, ``harness eval``, synthesis seeds, decontamination and
the loop at once with the same line (layout, ``--data-dir`` / ``HARNESS_DATA_DIR``, the hub), and the HF
hub is not even contacted (a real loopback listener stands in as ``HF_ENDPOINT`` and counts
connections); a hub that is switched off or skipped is reported with who did it, never as
``HF_HUB_OFFLINE=1`` when nobody set it.

Run: ``python3 -m pytest -q tests/test_newcomer.py``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.errors import DataError

REPO = Path(__file__).resolve().parents[1]
OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def harness(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", *args], cwd=cwd,
                          env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert r.returncode == 1 and len(lines) == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    return lines[0]


# --- a failed eval leaves no run folder ----------------------------------------------------------------


def test_unknown_backend_is_refused_before_any_folder_exists(tmp_path, tiny_checkpoint):
    out = tmp_path / "run"
    line = one_error_line(harness(["eval", "--backend", "nope", "--model", str(tiny_checkpoint), "--tasks",
                                   "gsm8k", "--limit", "2", "--output-dir", str(out)], dict(os.environ)))
    assert "backend: expected one of hf, vllm, openai, found 'nope'" in line and "did you mean 'openai'?" in line
    assert not out.exists()  # before: a folder holding run.lock and samples.jsonl.lock


def test_eval_that_fails_after_taking_its_folder_removes_it(tmp_path, data_dir):
    """The model is checked once the run folder is held (a finished sample needs no model): the failure
    removes the locks, and the folder the run created and left empty."""
    out = tmp_path / "run"
    line = one_error_line(harness(["eval", "--model", str(tmp_path / "no-such-ckpt"), "--tasks", "gsm8k",
                                   "--limit", "2", "--data-dir", str(data_dir), "--output-dir", str(out)],
                                  dict(os.environ)))
    assert "no-such-ckpt" in line
    assert not out.exists()
    kept = tmp_path / "mine"  # a folder the user made is kept, without lock files
    kept.mkdir()
    one_error_line(harness(["eval", "--model", str(tmp_path / "no-such-ckpt"), "--tasks", "gsm8k", "--limit", "2",
                            "--data-dir", str(data_dir), "--output-dir", str(kept)], dict(os.environ)))
    assert kept.is_dir() and list(kept.iterdir()) == []


def test_removed_lock_refuses_a_second_holder_and_leaves_no_file(tmp_path):
    from harness.io import RemovedLock

    path = tmp_path / "run.lock"
    a, b = RemovedLock(path), RemovedLock(path)
    assert a.acquire(timeout=0) and path.exists()
    assert not b.acquire(timeout=0)
    a.release()
    assert not path.exists()
    assert b.acquire(timeout=0)
    b.release()
    assert not path.exists()


def test_removed_lock_is_not_taken_on_a_file_its_holder_removed(tmp_path):
    """The race that makes removing a lock file unsafe without a check: a taker opened the file, then its
    holder removed it and let go. The taker's lock on that file must not count (else a third process,
    creating a new file, would hold the lock beside it)."""
    from harness.io import RemovedLock

    path = tmp_path / "run.lock"
    holder = RemovedLock(path)
    assert holder.acquire(timeout=0)
    late = RemovedLock(path)
    fd = os.open(path, os.O_RDWR)  # opened before the holder leaves
    holder.release()  # removes the file, then frees the lock
    assert late._take(fd) is None  # locked a file no longer at the path: not taken
    assert late.acquire(timeout=0)  # the new file
    third = RemovedLock(path)
    assert not third.acquire(timeout=0)
    late.release()


KILLED_HOLDER = """
import sys
from harness.io import RemovedLock
lock = RemovedLock(sys.argv[1])
assert lock.acquire(timeout=0)
print("held", flush=True)
sys.stdin.read()
"""


def test_removed_lock_left_by_kill_9_is_free(tmp_path):
    from harness.io import RemovedLock

    path = tmp_path / "run.lock"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_HOLDER, str(path)], env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert not RemovedLock(path).acquire(timeout=0)
    finally:
        proc.kill()
        proc.wait()
    assert path.exists()  # no cleanup ran; the kernel freed the flock
    lock = RemovedLock(path)
    assert lock.acquire(timeout=0)
    lock.release()
    assert not path.exists()


# --- one rule for a missing data folder ------------------------------------------------------------------


class Listener:
    """A loopback TCP listener that counts connections (the HF hub's stand-in, via HF_ENDPOINT)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def online_env(tmp_path):
    """An environment with no offline switch and the hub at a loopback listener."""
    hub = Listener()
    env = {k: v for k, v in os.environ.items() if k not in (*OFFLINE_VARS, "HARNESS_DATA_DIR")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf-home"))
    yield env, hub
    hub.close()


def test_a_named_missing_data_folder_stops_every_command_at_once(tmp_path, online_env, tiny_checkpoint):
    """Before: ``harness tasks`` refused at once, ``harness eval`` went to the hub (24 s offline) and the
    loop wrote loop.json first."""
    env, hub = online_env
    env = {**env, "HARNESS_DATA_DIR": "../shared-missing/data"}
    cwd = tmp_path / "clone"
    cwd.mkdir()
    missing = tmp_path / "shared-missing" / "data"
    lines = {
        "tasks": one_error_line(harness(["tasks"], env, cwd)),
        "eval": one_error_line(harness(["eval", "--model", str(tiny_checkpoint), "--tasks", "gsm8k", "--limit", "2",
                                        "--output-dir", str(tmp_path / "ev")], env, cwd)),
        "loop": one_error_line(harness(["loop", "--model", str(tiny_checkpoint), "--tasks", "gsm8k", "--run-dir",
                                        str(tmp_path / "loop")], env, cwd)),
    }
    rule = f"Expected a benchmark data folder at {missing} (HARNESS_DATA_DIR), found nothing there. To get the data: "
    for cmd, line in lines.items():
        assert rule in line, (cmd, line)
        assert "<dir>/gsm8k/{train,test}.jsonl, <dir>/math/{train,test,math500}.jsonl" in line
        assert "<dir>/<task>/test.jsonl" in line and "--data-dir <dir>" in line and "HF hub" in line
    assert hub.connections == 0  # nothing went to the hub
    assert not (tmp_path / "ev").exists() and not (tmp_path / "loop").exists()
    flag = one_error_line(harness(["tasks", "--data-dir", str(tmp_path / "nope")],
                                  {k: v for k, v in env.items() if k != "HARNESS_DATA_DIR"}, cwd))
    assert f"at {tmp_path / 'nope'} (--data-dir)" in flag


def test_seeds_and_decontamination_follow_the_same_rule(tmp_path, monkeypatch):
    from harness.data import require_data_dir
    from synth.dedup import registered_test_index
    from synth.seeds import select_seeds

    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(DataError) as want:
        require_data_dir()
    with pytest.raises(DataError) as e:
        select_seeds({"task": "gsm8k", "subject": "", "level": None}, 2)
    assert str(e.value) == str(want.value)
    with pytest.raises(DataError) as e:
        registered_test_index()
    assert str(e.value) == str(want.value)


def test_the_layout_in_messages_is_the_tasks_own():
    """DATA_LAYOUT names the file of every built-in task and split (their ``local_path``)."""
    import re

    from harness.data import DATA_LAYOUT, REGISTRY

    listed = {f"{folder}/{stem}.jsonl" for folder, group in re.findall(r"<dir>/(\w+)/\{([\w,]+)\}\.jsonl", DATA_LAYOUT)
              for stem in group.split(",")}
    folders = {f.split("/")[0] for f in listed}
    assert "<dir>/<task>/test.jsonl for the other tasks" in DATA_LAYOUT
    for name in REGISTRY.builtin_names():
        for split in REGISTRY[name].splits:
            rel = REGISTRY[name].local_path(Path(""), split).as_posix()
            assert rel in listed or (rel == f"{name}/test.jsonl" and name not in folders), rel


def test_hub_not_tried_says_who_decided(tmp_path, monkeypatch, caplog):
    """Before: "offline: HF_HUB_OFFLINE=1" although nobody set it (decontamination skips the hub itself)."""
    from harness.data import load_task
    from synth.dedup import registered_test_index

    for var in (*OFFLINE_VARS, "HARNESS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(DataError) as e:
        load_task("aime24", allow_hub=False)
    assert "HF hub HuggingFaceH4/aime_2024 (not tried: this step reads local files only)" in str(e.value)
    assert "HF_HUB_OFFLINE" not in str(e.value) and "<dir>/aime24/test.jsonl" in str(e.value)
    with caplog.at_level(logging.WARNING, logger="synth.dedup"):
        idx = registered_test_index()
    warned = [r.getMessage() for r in caplog.records if r.name == "synth.dedup"]
    assert len(warned) == 1 and "HF_HUB_OFFLINE" not in warned[0], warned
    assert "no data folder" in warned[0] and "9 registered test sets" in warned[0]
    assert len(idx.missing) == 9
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match=r"not tried: HF_HUB_OFFLINE=1 is set in the environment"):
        load_task("aime24")


def test_unreachable_hub_is_reported_in_seconds(tmp_path, monkeypatch):
    from harness.data import load_task

    for var in (*OFFLINE_VARS, "HARNESS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: refused at once
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(DataError, match=r"HF hub openai/gsm8k \(not reachable: no network\?\)"):
        load_task("gsm8k")
