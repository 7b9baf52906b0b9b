"""Process setup for training: the distributed environment a single process needs, and the
``torchrun`` command for several processes on one machine.

DeepSpeed (0.19, CPU) needs RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT even for
one process (without them it falls back to MPI discovery and fails with an obscure mpi4py error),
so :func:`ensure_dist_env` sets them when unset. It also pins TORCH_EXTENSIONS_DIR to a stable
cache, so the small shared-memory op DeepSpeed compiles on first use (about a minute) is built once.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


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


def ensure_dist_env(env: dict[str, str] | None = None) -> dict[str, str]:
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


def torchrun_command(nproc: int, script_args: Sequence[str], *, port: int | None = None) -> list[str]:
    """The command that runs ``python -m train.sft`` in ``nproc`` processes on this machine.

    Uses ``python -m torch.distributed.run`` (``torchrun``) with a loopback rendezvous; on CPU the
    ranks talk over gloo. Multi-node: see train/README.md (same script, ``--nnodes``/hostfile).
    """
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--nnodes=1",
        "--master_addr=127.0.0.1",
        f"--master_port={port or free_port()}",
        "-m",
        "train.sft",
        *script_args,
    ]
