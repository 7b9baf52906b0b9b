"""Shared fixtures and the test tiers.

Run everything: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests``.

Tiers (markers, see pyproject.toml):
- unmarked: fast unit and golden-table tests (pure Python).
- ``slow``: end to end with a tiny real model (built by the ``tiny_checkpoint`` fixture), real
  subprocesses and loopback HTTP servers; seconds to a minute each. Skip with ``-m "not slow"``.
- ``gpu``: needs CUDA; skipped on machines without it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _custom_task_registry():
    """Custom JSONL tasks registered by one test (``register_jsonl_task``, or ``harness eval`` of a JSONL
    path in-process) do not leak into the next: each test runs in a scope of the process's task registry,
    whose custom tasks decontamination indexes. (Tests that need tasks of their own can also build a
    registry instance: ``TaskRegistry.builtin()``.)"""
    from harness.data import REGISTRY

    with REGISTRY.scoped():
        yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data folder (``$HARNESS_DATA_DIR``, default ``../shared/data``)."""
    d = Path(os.environ.get("HARNESS_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (d / "math" / "test.jsonl").is_file():
        pytest.skip(f"benchmark data not found at {d}; set HARNESS_DATA_DIR")
    return d


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny randomly initialised Llama checkpoint with a char-level tokenizer (no chat template)."""
    from harness.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")


@pytest.fixture(scope="session")
def tiny_chat_checkpoint(tmp_path_factory) -> Path:
    """Same as ``tiny_checkpoint`` but its tokenizer has a chat template."""
    from harness.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tinychat") / "ckpt", chat_template=True)


@pytest.fixture(scope="session")
def harness_serve():
    """A context manager that runs ``harness serve --model M --port 0 [args]`` as a real subprocess and
    yields its base URL (``http://127.0.0.1:PORT/v1``); the server is stopped on exit."""
    import contextlib
    import subprocess
    import sys
    import tempfile
    import threading

    @contextlib.contextmanager
    def run(model, *args: str):
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-c", "from harness.cli import main; main()", "serve", "--model", str(model),
               "--port", "0", *args]
        with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: a chatty server can never block
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
            reader.start()
            reader.join(timeout=120)
            try:
                if not (lines and lines[0].startswith(f"Serving {model} at http://127.0.0.1:")):
                    err.seek(0)
                    raise AssertionError(f"harness serve did not start: {lines} {err.read()[-2000:]}")
                yield lines[0].split(" at ")[1].strip()
            finally:
                proc.terminate()
                proc.wait(timeout=10)

    return run


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped has finished)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def kill9_launcher():
    """``kill9(proc, until, pid_file, hang_s=900)``: wait (on the event ``until()``; ``hang_s`` only guards
    against a hang) while ``proc`` (started with ``start_new_session=True``) runs, then SIGKILL ``proc``
    alone, not its group, as a user's ``kill -9`` does, and wait until the child whose pid is in
    ``pid_file`` has died with it (failing if it outlives it by 60 s). Returns the child's pid. Whatever
    is left of the process group is killed when the test ends."""
    import signal
    import time

    started = []

    def kill9(proc, until, pid_file: Path, hang_s: float = 900) -> int:
        started.append(proc)
        hang = time.monotonic() + hang_s
        while not until():
            assert proc.poll() is None, "the launcher ended before the event it was to be killed at"
            assert time.monotonic() < hang, "the event never came"
            time.sleep(0.1)
        child = int(pid_file.read_text())
        assert child != proc.pid and _alive(child)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        died = time.monotonic() + 60
        while _alive(child):  # dies with its parent (PR_SET_PDEATHSIG), within milliseconds
            assert time.monotonic() < died, f"the child (pid {child}) outlived its killed parent"
            time.sleep(0.05)
        return child

    yield kill9
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


@pytest.fixture
def small_disk(tmp_path):
    """A real tmpfs of ``size`` bytes at ``tmp_path/disk`` (needs root and mount); ``grow(size)`` remounts
    it larger, as freeing space would. Skips where mounting is not allowed."""
    mnt = tmp_path / "disk"
    mnt.mkdir()

    def mount(size: int) -> Path:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
        if r.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()[:80]})")
        return mnt

    def grow(size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mnt)], check=True)

    mount.grow = grow  # type: ignore[attr-defined]
    yield mount
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
