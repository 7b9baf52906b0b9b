"""Launching training: :func:`run` is the one way the CLI, the loop and the demo start it.

:func:`run` checks what can be checked cheaply (the base model path, the output folder against
``--resume``), writes the :class:`~train.config.TrainConfig` to a JSON file and starts
``python -m train.sft --config-file FILE`` (one process) or this module as a ``torchrun`` wrapper
(``--nproc N``: N ranks on this machine; gloo on CPU, NCCL on GPUs). Nothing is rebuilt as argv.

Processes: every child dies with its parent (``prctl(PR_SET_PDEATHSIG)`` on Linux, set by the child
itself, which also exits at once if the parent is already gone), and rank 0 holds a lock on the output
folder while it trains (:func:`hold_output`), so a rerun after ``kill -9`` waits for a dying orphan
or refuses with one clear line; it never trains beside it. A rank's :class:`~harness.errors.HarnessError`
is handed back to the parent through a file and raised there as one ``Error:`` line.

DeepSpeed (0.19, CPU) needs RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT even for
one process (without them it falls back to MPI discovery and fails with an obscure mpi4py error),
so :func:`ensure_dist_env` sets them when unset. It also pins TORCH_EXTENSIONS_DIR to a stable
cache, so the small shared-memory op DeepSpeed compiles on first use (about a minute) is built once;
:func:`prepare_deepspeed_ops` builds it under a kernel lock and clears a build lock left by a killed
build (torch's own lock file has no owner and would make every later run wait forever).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.io import set_parent_death_signal
from harness.rundir import RunDir
from train.rundir import (
    LOCK_WAIT_S,
    SUMMARY_FILE,
    check_base_model,
    check_data,
    prepare_run_dir,
    resume_hint,
    run_dir,
)

if TYPE_CHECKING:
    from train.config import TrainConfig

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: The launching process's pid (a child exits at once when its parent is no longer this pid).
PARENT_ENV = "HARNESS_TRAIN_PARENT_PID"
#: Where rank 0 writes its one-line error for the launching process.
ERROR_ENV = "HARNESS_TRAIN_ERROR_FILE"
#: How long a process waits for another one's build of DeepSpeed's CPU op.
BUILD_WAIT_S = 900.0
#: After Ctrl-C, how long the ranks get to close their files and remove their locks before they are killed.
STOP_WAIT_S = 30.0


def extensions_dir() -> str:
    """The cache folder for DeepSpeed's compiled ops (``$TORCH_EXTENSIONS_DIR`` if set)."""
    return os.environ.get("TORCH_EXTENSIONS_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mathharness" / "torch_extensions"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_dist_env(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Fill in single-process distributed variables and the extensions cache, where unset.

    Args:
        env: the mapping to update (default: ``os.environ``).

    Returns:
        The variables that were set (name -> value).
    """
    env = os.environ if env is None else env
    set_now: dict[str, str] = {}
    if "WORLD_SIZE" not in env:
        defaults = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
        for k, v in defaults.items():
            if k not in env:
                set_now[k] = v
        if "MASTER_PORT" not in env:
            set_now["MASTER_PORT"] = str(free_port())
    if "TORCH_EXTENSIONS_DIR" not in env:
        set_now["TORCH_EXTENSIONS_DIR"] = extensions_dir()
    env.update(set_now)
    return set_now


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for launched ranks: repo importable, one OpenMP thread per rank, shared op cache,
    and no inherited single-process rank variables (the launcher sets its own)."""
    env = dict(os.environ if base is None else base)
    for k in DIST_VARS:
        env.pop(k, None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("TORCH_EXTENSIONS_DIR", extensions_dir())
    return env


# --- the one launcher -------------------------------------------------------------------------


def run(cfg: TrainConfig, nproc: int | None = None) -> dict[str, Any]:
    """Train ``cfg`` in child process(es) and return its summary (``train_summary.json``).

    Args:
        cfg: the validated training config.
        nproc: processes on this machine (default ``cfg.nproc``); 1 runs ``python -m train.sft``,
            more run it under ``torchrun``.

    Returns:
        The run summary written by rank 0.

    Raises:
        ConfigError: bad base model path or ``--data`` entries, output/``--resume`` conflicts (checked
            before launching).
        HarnessError: the error a rank reported (one line), or its exit status when it crashed.
        KeyboardInterrupt: Ctrl-C, once the ranks have stopped (:func:`stop_child`).
    """
    nproc = nproc or cfg.nproc
    check_base_model(cfg.model)
    check_data(cfg.data)
    prepare_run_dir(cfg)
    from harness.options import write_json

    with tempfile.TemporaryDirectory(prefix="harness-train-") as tmp:
        cfg_file = write_json(cfg, Path(tmp) / "train_config.json")
        err_file = Path(tmp) / "error.txt"
        env = child_env()
        env[PARENT_ENV], env[ERROR_ENV] = str(os.getpid()), str(err_file)
        if nproc == 1:
            cmd = [sys.executable, "-m", "train.sft", "--config-file", str(cfg_file)]
        else:
            cmd = [sys.executable, "-m", "train.launch", str(nproc), str(cfg_file)]
        proc = subprocess.Popen(cmd, env=env)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:  # Ctrl-C: let the ranks stop as they do on their own Ctrl-C, then go on up
            stop_child(proc)
            raise
        except BaseException:  # an error here: the training must not outlive us
            proc.kill()
            proc.wait()
            raise
        if rc != 0:
            if err_file.is_file() and err_file.read_text().strip():
                raise HarnessError(err_file.read_text().strip())
            raise HarnessError(f"training {cfg.output} with {nproc} process(es) failed (exit {rc}); "
                               f"its output is above. Fix it, then {resume_hint(cfg.output)}.")
    return json.loads((Path(cfg.output) / SUMMARY_FILE).read_text())


def stop_child(proc: subprocess.Popen, *, wait_s: float = STOP_WAIT_S) -> None:
    """Stop the training child after Ctrl-C: a terminal's Ctrl-C reached it too (else it is sent one now);
    it gets ``wait_s`` seconds to leave as after its own Ctrl-C (files closed, lock and pid files removed,
    no output: :func:`train.sft.main`), then it is killed. A second Ctrl-C kills it at once."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=wait_s)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.kill()
        proc.wait()


def torchrun_args(nproc: int, script_args: Sequence[str], *, port: int | None = None) -> list[str]:
    """``torchrun`` arguments that run ``python -m train.sft`` in ``nproc`` processes on this machine
    with a loopback rendezvous. Multi-node: see train/README.md (same script, ``--nnodes``/hostfile)."""
    return [f"--nproc_per_node={nproc}", "--nnodes=1", "--master_addr=127.0.0.1",
            f"--master_port={port or free_port()}", "-m", "train.sft", *script_args]


def _torchrun_main(argv: Sequence[str]) -> int:
    """``python -m train.launch NPROC CONFIG.json``: torchrun in this process, which dies with its
    parent; the ranks die with it. A rank's own error reaches the user through :func:`run` (one line),
    a crash through the rank's traceback; torch elastic's per-rank log lines would only repeat them."""
    die_with_parent()
    os.environ[PARENT_ENV] = str(os.getpid())
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as torchrun

    for name in list(logging.root.manager.loggerDict):  # each elastic module sets its own level ($LOGLEVEL)
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    nproc, cfg_file = int(argv[0]), argv[1]
    try:
        torchrun(parse_args(torchrun_args(nproc, ["--config-file", cfg_file])))
    except (SignalException, KeyboardInterrupt):  # Ctrl-C: torchrun passed it to the ranks; run() says it once
        return 130
    except ChildFailedError as e:
        err = os.environ.get(ERROR_ENV)
        if not (err and Path(err).is_file()):
            codes = sorted({f.exitcode for f in (getattr(e, "failures", {}) or {}).values()})
            print(f"training ranks failed (exit codes {codes}); their output is above", file=sys.stderr)
        return 1
    return 0


# --- processes that die with their parent, and the output lock ----------------------------------


def die_with_parent() -> None:
    """When launched by :func:`run` (``$HARNESS_TRAIN_PARENT_PID`` set): ask the kernel to SIGKILL this
    process when its parent dies (Linux ``PR_SET_PDEATHSIG``), and exit now if that parent is already
    gone. A process started by hand (``nohup torchrun ... -m train.sft``) is left alone."""
    expected = os.environ.get(PARENT_ENV)
    if not expected:
        return
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != int(expected):
        os._exit(1)  # the launcher died before the request above took effect


@contextlib.contextmanager
def hold_output(output: str | os.PathLike, *, wait_s: float = LOCK_WAIT_S) -> Iterator[RunDir]:
    """Hold the output folder as a :class:`~harness.rundir.RunDir` while training writes it:
    ``<output>/train.lock`` (a kernel ``flock``: freed when its holder dies, even by ``kill -9``) with this
    pid in ``<output>/train.pid``.

    Args:
        output: the run folder.
        wait_s: how long to wait for another holder (an orphan of a killed launcher dies within
            milliseconds; a live run is refused).

    Raises:
        ConfigError: another process kept the lock for ``wait_s`` seconds (its pid named).
    """
    with run_dir(output, wait_s=wait_s) as rd:
        yield rd


# --- DeepSpeed's CPU op ----------------------------------------------------------------------


def prepare_deepspeed_ops(*, wait_s: float = BUILD_WAIT_S) -> None:
    """Build (or load) DeepSpeed's CPU shared-memory op before DeepSpeed does, under a kernel lock.

    torch guards a build with a bare ``lock`` file in the build folder that names no owner: a process
    killed while building leaves it and every later load waits forever in ``file_baton.py``. Builds
    here hold ``<extensions>/.harness-build.lock`` (``flock``, freed at death), so a ``lock`` file found
    while holding it was left by a dead build and is removed. DeepSpeed then reuses the loaded op.

    Raises:
        HarnessError: another process held the build lock for ``wait_s`` seconds (the files named).
    """
    import torch

    if torch.cuda.is_available():
        return
    import deepspeed.ops
    from deepspeed.accelerator import get_accelerator
    from filelock import FileLock, Timeout

    builder = get_accelerator().create_op_builder("ShareMemCommBuilder")
    if builder is None or not deepspeed.ops.__compatible_ops__.get(builder.NAME, False):
        return
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or extensions_dir())
    root.mkdir(parents=True, exist_ok=True)
    baton = root / builder.name / "lock"
    lock = FileLock(str(root / ".harness-build.lock"))
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        raise HarnessError(
            f"Waited {wait_s:.0f} s for another process building DeepSpeed's CPU op in {root} "
            f"(lock {root / '.harness-build.lock'}). If no training is running, delete {baton} and re-run."
        ) from None
    try:
        if baton.exists():
            log.warning("removing %s, left by a DeepSpeed op build that was killed", baton)
            baton.unlink()
        t0 = time.time()
        builder.load(verbose=False)
        if time.time() - t0 > 5:
            log.warning("built DeepSpeed's %s op in %.0f s (cached in %s)", builder.name, time.time() - t0, root)
    finally:
        lock.release()


if __name__ == "__main__":
    sys.exit(_torchrun_main(sys.argv[1:]))
