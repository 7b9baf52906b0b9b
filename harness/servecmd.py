"""Run the user's serving command for one checkpoint: start it on a free loopback port, wait until it
answers, hand out its URL, stop it (``harness eval --serve-cmd``; the loop serves each round's checkpoint
this way with ``eval.backend: openai``).

The command is a template with ``{model}`` and ``{port}`` placeholders (``vllm serve {model} --port {port}``),
split like a shell line (quotes kept; leading ``NAME=VALUE`` words set environment variables, as in a shell)
and run without a shell. No server may outlive the run that started it, however that run ends:

- it runs under a small guard process (``python -m harness.servecmd``) that leads its own process group;
  the server and everything it spawns (vLLM's engine processes) stay in that group;
- the guard asks the kernel for SIGTERM when the evaluating process dies
  (:func:`harness.io.set_parent_death_signal`, ``kill -9`` included) and then stops the whole group:
  SIGTERM, then SIGKILL after :data:`GRACE_S`;
- a normal end, an error or Ctrl-C stops it the same way from :func:`serving`.

Readiness is ``GET /v1/models`` (vLLM, SGLang, ``harness serve``) or ``/health`` answering 200; a command
that exits first, or never answers within the timeout, is one error naming its log file and its last lines.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from harness.errors import BackendError, ConfigError

#: Seconds between SIGTERM and SIGKILL when the server's process group is stopped.
GRACE_S = 10.0
#: Lines of the server's log shown when it fails to start.
TAIL_LINES = 15
PARENT_ENV = "HARNESS_SERVE_PARENT_PID"
_ENV_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.S)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(template: str, model: str, port: int) -> tuple[list[str], dict[str, str]]:
    """``(argv, environment additions)`` of a serving template for ``model`` on ``port``.

    The template is split first, so a model path with spaces stays one argument.

    Raises:
        ConfigError: the template does not split (unbalanced quotes) or names no program.

    Examples:
        >>> command("CUDA_VISIBLE_DEVICES=1 vllm serve {model} --port {port}", "/m d", 8001)
        (['vllm', 'serve', '/m d', '--port', '8001'], {'CUDA_VISIBLE_DEVICES': '1'})
    """
    try:
        words = shlex.split(template)
    except ValueError as e:
        raise ConfigError(f"serve_cmd: expected a command line, found {template!r} ({e}).") from None
    env = {}
    while words and _ENV_WORD.fullmatch(words[0]):
        k, _, v = words.pop(0).partition("=")
        env[k] = v
    if not words:
        raise ConfigError(f"serve_cmd: expected a program to run, found {template!r}.")
    argv = [w.replace("{model}", model).replace("{port}", str(port)) for w in words]
    return argv, env


def _tail(path: Path, n: int = TAIL_LINES) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:]) or "(empty log)"


def _answers(port: int) -> bool:
    for path in ("/v1/models", "/health"):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            continue
    return False


def _stop(proc: subprocess.Popen) -> None:
    """Stop the guard (it stops the server's whole group); SIGKILL the group if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=GRACE_S + 5)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the guard leads the group: nothing of it is left
    proc.wait()


@contextlib.contextmanager
def serving(template: str, model: str, *, log_path: str | os.PathLike, timeout_s: float,
            on_start: object = None) -> Iterator[str]:
    """Serve ``model`` with the command ``template`` for the duration of the ``with`` block.

    Args:
        template: the command with ``{model}`` and ``{port}`` placeholders.
        model: what ``{model}`` becomes (a checkpoint path, or a hub id).
        log_path: where the server's stdout and stderr go (appended).
        timeout_s: how long the server may take to answer.
        on_start: called with the guard's pid once the server answers (tests and benchmarks use it).

    Yields:
        The server's OpenAI base URL, ``http://127.0.0.1:PORT/v1``.

    Raises:
        BackendError: the command exited before answering, or did not answer within ``timeout_s``
            (its log's last lines are in the message).
    """
    port = free_port()
    argv, extra_env = command(template, model, port)
    url = f"http://127.0.0.1:{port}/v1"
    log_file = Path(log_path)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **extra_env, PARENT_ENV: str(os.getpid())}
    shown = " ".join(shlex.quote(a) for a in argv)
    with open(log_file, "ab") as out:
        out.write(f"\n[harness] starting: {shown}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen([sys.executable, "-m", "harness.servecmd", *argv], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        except OSError as e:
            raise BackendError(f"could not start the serving command `{shown}`: {e}.") from None
    t0 = time.monotonic()
    try:
        deadline = t0 + timeout_s
        while not _answers(port):
            if proc.poll() is not None:
                raise BackendError(
                    f"the serving command `{shown}` exited before answering at {url}; "
                    f"fix the command (eval serve_cmd) and re-run. Last lines of {log_file}:\n{_tail(log_file)}")
            if time.monotonic() > deadline:
                raise BackendError(
                    f"the serving command `{shown}` did not answer at {url} within {timeout_s:g} s; raise "
                    f"serve_timeout if it is still loading, or fix the command. Last lines of {log_file}:\n"
                    f"{_tail(log_file)}")
            time.sleep(0.25)
        _note(log_file, f"answered after {time.monotonic() - t0:.3f} s")
        if callable(on_start):
            on_start(proc.pid)
        yield url
    finally:
        t1 = time.monotonic()
        _stop(proc)
        _note(log_file, f"stopped after {time.monotonic() - t1:.3f} s")


def _note(log_file: Path, text: str) -> None:
    """A line of our own in the server's log (the startup and stop times; benchmarks read them)."""
    with contextlib.suppress(OSError), open(log_file, "a") as f:
        f.write(f"[harness] {text}\n")


# --- the guard --------------------------------------------------------------------------------


def _guard(argv: list[str]) -> int:
    """``python -m harness.servecmd PROGRAM ARGS...``: run the server in this process group and stop the
    whole group when told to (SIGTERM, SIGHUP, SIGINT) or when the evaluating process dies."""
    from harness.io import set_parent_death_signal

    stops = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops | {signal.SIGCHLD})
    set_parent_death_signal(signal.SIGTERM)
    expected = os.environ.pop(PARENT_ENV, None)
    if expected and os.getppid() != int(expected):
        return 1  # the parent died before the request above took effect
    try:
        proc = subprocess.Popen(argv, preexec_fn=lambda: signal.pthread_sigmask(
            signal.SIG_UNBLOCK, stops | {signal.SIGCHLD}))
    except OSError as e:
        print(f"[harness] could not run {argv[0]!r}: {e}", file=sys.stderr, flush=True)
        return 127
    print(f"[harness] server pid {proc.pid}, process group {os.getpgid(0)}", file=sys.stderr, flush=True)
    while True:
        sig = signal.sigwaitinfo(stops | {signal.SIGCHLD}).si_signo
        if sig == signal.SIGCHLD and proc.poll() is None:
            continue
        break
    code = proc.poll()
    if code is not None:
        print(f"[harness] the server exited with status {code}", file=sys.stderr, flush=True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(0, signal.SIGTERM)  # the server and anything it started (this guard has SIGTERM blocked)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=GRACE_S)
    sys.stdout.flush()
    sys.stderr.flush()
    os.killpg(0, signal.SIGKILL)  # whatever is left, this guard last
    return code if code is not None else 1  # not reached after the SIGKILL above


if __name__ == "__main__":
    sys.exit(_guard(sys.argv[1:]))
