"""Small I/O helpers shared by every stage: JSONL with line-numbered errors, atomic writes,
crash-safe appends, config hashing, and run provenance (git commit, date)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import DataError


def iter_jsonl(path: str | os.PathLike, *, skip_bad: bool = False, bad: list | None = None) -> Iterator[dict]:
    """Yield one dict per non-empty line of a JSONL file.

    Args:
        path: the file.
        skip_bad: when True, malformed lines are skipped and appended to ``bad`` as
            ``(line_number, message)``; when False the first one raises :class:`DataError`.
        bad: list collecting skipped lines (only with ``skip_bad``).

    Raises:
        DataError: the file is missing, or a line is not a JSON object (and ``skip_bad`` is False).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Expected a JSONL file at {p}, but it does not exist. Check the path.")
    with p.open("r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError(f"a JSON {type(obj).__name__}, not an object")
            except ValueError as e:
                msg = f"{p}:{lineno}: expected one JSON object per line, found {line[:60].strip()!r} ({e})"
                if skip_bad:
                    if bad is not None:
                        bad.append((lineno, msg))
                    continue
                raise DataError(msg + ". Fix or delete that line.") from None
            yield obj


def read_jsonl(path: str | os.PathLike, **kw: Any) -> list[dict]:
    """Read a whole JSONL file; see :func:`iter_jsonl`."""
    return list(iter_jsonl(path, **kw))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Atomically write rows as JSONL; returns the row count."""
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def append_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Append rows as complete lines in one write, then fsync.

    A process killed mid-write can leave at most one partial final line; readers of
    append-only logs use :func:`read_jsonl_tolerant` to drop it.
    """
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not data:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl_tolerant(path: str | os.PathLike) -> tuple[list[dict], int]:
    """Read an append-only JSONL log, skipping a torn last line (from a kill mid-write).

    Returns ``(rows, n_bad)``. A malformed line that is not the last one still counts in
    ``n_bad`` so callers can report it.
    """
    if not Path(path).exists():
        return [], 0
    bad: list = []
    rows = read_jsonl(path, skip_bad=True, bad=bad)
    return rows, len(bad)


def config_hash(obj: Any) -> str:
    """A short stable hash of a JSON-able config."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """The current git commit of the harness source tree (``"unknown"`` outside git)."""
    here = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
        sha = out.stdout.strip()
        if out.returncode == 0 and sha:
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=here, capture_output=True, text=True, timeout=5, check=False,
            ).stdout.strip()
            return sha[:12] + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
