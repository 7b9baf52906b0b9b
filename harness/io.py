"""Small I/O helpers shared by every stage: JSONL with line-numbered errors, atomic writes,
crash-safe appends, the one resumable append-only log (:class:`ResumableLog`: lock-or-refuse,
changed-config refusal, torn-line repair), config hashing, and run provenance (git commit, date)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError, StorageError

log = logging.getLogger(__name__)


def decode_line(raw: bytes, lineno: int, path: str | os.PathLike) -> str:
    """One line of a text file as str.

    Raises:
        DataError: the line is not UTF-8 (naming the file line and the byte).
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}:{lineno}: expected UTF-8 text, found byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line "
            "(re-save the file as UTF-8)."
        ) from None


def iter_jsonl(path: str | os.PathLike, *, skip_bad: bool = False, bad: list | None = None,
               linenos: list | None = None) -> Iterator[dict]:
    """Yield one dict per non-empty line of a JSONL file.

    Args:
        path: the file.
        skip_bad: when True, malformed lines are skipped and appended to ``bad`` as
            ``(line_number, message)``; when False the first one raises :class:`DataError`.
        bad: list collecting skipped lines (only with ``skip_bad``).
        linenos: when given, the file line number of each yielded row is appended to it.

    Raises:
        DataError: the file is missing, a line is not UTF-8, or a line is not a JSON object (and
            ``skip_bad`` is False).
    """
    p = Path(path)
    if p.is_dir():
        raise DataError(f"Expected a JSONL file at {p}, found a directory. Pass one of its .jsonl files.")
    if not p.is_file():
        raise DataError(f"Expected a JSONL file at {p}, but it does not exist. Check the path.")
    with p.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = decode_line(raw, lineno, p)
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError(f"a JSON {type(obj).__name__}, not an object")  # noqa: TRY004
            except ValueError as e:
                msg = f"{p}:{lineno}: expected one JSON object per line, found {line[:60].strip()!r} ({e})"
                if skip_bad:
                    if bad is not None:
                        bad.append((lineno, msg))
                    continue
                raise DataError(msg + ". Fix or delete that line.") from None
            if linenos is not None:
                linenos.append(lineno)
            yield obj


def read_jsonl(path: str | os.PathLike, **kw: Any) -> list[dict]:
    """Read a whole JSONL file; see :func:`iter_jsonl`."""
    return list(iter_jsonl(path, **kw))


def json_text(obj: Any, **kw: Any) -> str:
    """``json.dumps`` keeping non-ASCII text as it is, except text that UTF-8 cannot hold (a lone
    surrogate such as a server's JSON-escaped ``\\ud800``): then the whole object is written with
    ``\\uXXXX`` escapes, which is valid JSON that reads back the same. So a record never fails to be
    written because of its text."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        log.debug("text UTF-8 cannot hold (a lone surrogate): written with \\u escapes")
        return json.dumps(obj, ensure_ascii=True, **kw)
    return text


def free_space(path: str | os.PathLike) -> str:
    """The free space on the disk holding ``path`` (or its nearest existing parent), e.g. ``"12.0 kB"``."""
    import shutil

    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        n = float(shutil.disk_usage(p).free)
    except OSError:
        return "unknown"
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return "unknown"  # unreachable


#: The environment variables by which the Hugging Face libraries are switched offline.
HUB_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def hub_switched_off() -> str | None:
    """Why the HF hub must not be tried, as set in this process's environment (e.g.
    ``"HF_HUB_OFFLINE=1 is set in the environment"``), or None. Nothing in this project sets these
    variables; a value found was set by the user or whatever started the process."""
    for var in HUB_OFFLINE_VARS:
        value = os.environ.get(var, "").strip()
        if value.lower() in ("1", "true", "yes", "on"):
            return f"{var}={value} is set in the environment"
    return None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the HF hub's host (``$HF_ENDPOINT`` or huggingface.co) accepts a connection within
    ``timeout`` seconds (and is not switched off, :func:`hub_switched_off`). The hub clients retry for
    tens of seconds before failing offline; this answers in at most ``timeout``."""
    import socket
    from urllib.parse import urlparse

    if hub_switched_off():
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    done = threading.Event()
    ok: list[bool] = []

    def probe() -> None:  # in a thread: the name lookup itself has no timeout
        try:
            with socket.create_connection((url.hostname, url.port or (443 if url.scheme != "http" else 80)),
                                          timeout=timeout):
                ok.append(True)
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=probe, name="hub-probe", daemon=True).start()
    return done.wait(timeout) and bool(ok)


def storage_error(path: str | os.PathLike, e: OSError, kept: str = "") -> StorageError:
    """The one message for a file that could not be written: the file, the system's reason, the free
    space there, what is kept and how to go on."""
    reason = e.strerror or type(e).__name__
    return StorageError(f"could not write {path}: {reason} ({free_space(path)} free there). "
                        f"Everything written before is intact{kept}; free space (or fix the folder) and re-run "
                        "the same command to resume.")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    The file gets the usual permissions (0666 less the umask), not ``mkstemp``'s 0600.

    Raises:
        StorageError: the file could not be written (disk full, ...); the old file, if any, is untouched.
    """
    p = Path(path)
    tmp = p.parent / f"{p.name}.{secrets.token_hex(6)}.tmp"
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise storage_error(p, e, f" ({p.name} keeps its previous content)" if p.exists() else "") from None
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json_text(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Atomically write rows as JSONL; returns the row count."""
    lines = [json_text(r) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def append_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Append rows as complete lines in one write, then fsync.

    A process killed mid-write can leave at most one partial final line; readers of
    append-only logs use :func:`read_jsonl_tolerant` to drop it. A write that fails part-way (disk
    full) is cut back to where it started, so the file holds whole lines only.

    Raises:
        StorageError: the rows could not be written (none of them is in the file then, unless even the
            cut failed; :class:`ResumableLog` cuts again before its next write).
    """
    try:
        _append_lines(path, rows)
    except OSError as e:
        raise storage_error(path, e) from None


def _append_lines(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """:func:`append_jsonl` raising the ``OSError`` itself."""
    data = b"".join((json_text(r) + "\n").encode("utf-8") for r in rows)
    if not data:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        start = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)
            except OSError:
                log.debug("%s: could not cut a failed write back to %d bytes", path, start)
            raise
    finally:
        os.close(fd)


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


def repair_tail(path: str | os.PathLike) -> int:
    """Cut a torn last line (no trailing newline, left by a kill mid-write) so appends start on a
    fresh line. Returns the number of bytes cut (0 when the file is whole or absent)."""
    p = Path(path)
    if not p.exists():
        return 0
    size = p.stat().st_size
    if size == 0:
        return 0
    with open(p, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        keep, pos = 0, size
        while pos > 0:
            start = max(0, pos - (1 << 16))
            f.seek(start)
            nl = f.read(pos - start).rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            pos = start
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    log.warning("%s: dropped a torn last line (%d bytes) left by an interrupted run", p, size - keep)
    return size - keep


def diff_fields(old: Mapping, new: Mapping, prefix: str = "") -> list[str]:
    """Names of the (nested) fields whose values differ between two configs, as ``key (old -> new)``."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += diff_fields(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k} ({a!r} -> {b!r})")
    return out


def refuse_changed_config(where: str | os.PathLike, old: Mapping, new: Mapping, fix: str) -> None:
    """Raise :class:`ConfigError` naming every differing field when ``old`` and ``new`` configs differ.

    Args:
        where: the file or folder holding the earlier work (named in the message).
        old: the config the earlier work was made with.
        new: the config of this run.
        fix: what the user should do, e.g. "use a new --output-dir".

    Raises:
        ConfigError: the configs differ.
    """
    if config_hash(dict(old)) == config_hash(dict(new)):
        return
    diffs = diff_fields(old, new) or ["config"]
    raise ConfigError(f"{where} holds work made with a different config ({'; '.join(diffs)}); "
                      f"refusing to mix results: {fix}.")


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux ``PR_SET_PDEATHSIG``), so
    worker and rank processes never outlive the command that started them. Returns False where the
    platform has no such request (the caller's other guards, such as output locks, still apply)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False
    return True


class RemovedLock:
    """An exclusive lock on the file ``path`` whose file is removed when released, so a run that ends
    (finished or failed) leaves no lock file behind.

    The lock is a kernel ``flock``: freed when its holder dies, even by ``kill -9`` (the file stays then,
    and the next taker reuses it). Removing a lock file is safe only with a check on the taking side: a
    process that opened the file just before its holder removed it gets a lock on a file no longer at
    ``path``; :meth:`acquire` sees that (the file at ``path`` is not the one it locked) and tries again.
    On Windows (no ``fcntl``) it is ``filelock.FileLock``, whose file stays.

    Examples:
        >>> lock = RemovedLock(tmp / "run.lock")  # doctest: +SKIP
        >>> lock.acquire(timeout=0)  # doctest: +SKIP
        True
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._other: Any = None  # filelock.FileLock where fcntl is missing

    def acquire(self, timeout: float = 0.0) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds; False when another process kept it."""
        if sys.platform == "win32":  # pragma: no cover - no fcntl
            from filelock import FileLock, Timeout

            self._other = FileLock(str(self.path))
            try:
                self._other.acquire(timeout=timeout)
            except Timeout:
                self._other = None
                return False
            return True
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            taken = self._take(fd)
            if taken:
                return True
            if taken is False and time.monotonic() >= deadline:
                return False
            if taken is False:
                time.sleep(0.05)  # flock has no timed wait; poll as filelock does
            # None: the holder removed the file after it was opened here; take the new one at once

    def _take(self, fd: int) -> bool | None:
        """Lock the opened ``fd`` (then it is kept): True; held by another process: False; locked, but the
        file is no longer the one at ``path`` (its holder removed it after ``fd`` was opened): None."""
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        try:
            here, mine = os.stat(self.path), os.fstat(fd)
            same = (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return None
        self._fd = fd
        return True

    def release(self) -> None:
        """Remove the lock file, then free the lock (in this order: see the class docstring)."""
        if self._other is not None:  # pragma: no cover - not POSIX
            self._other.release()
            self._other = None
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:  # a read-only folder: the file stays, which is harmless
            log.debug("could not remove %s", self.path, exc_info=True)
        finally:
            os.close(self._fd)
            self._fd = None


def acquire_or_refuse(lock_path: str | os.PathLike, *, what: str, subject: str | os.PathLike, fix: str) -> RemovedLock:
    """Take the lock at ``lock_path`` (:class:`RemovedLock`) without waiting and return it (the caller
    releases it, which removes the file). A lock left by a killed process is free again (``flock``); a live
    holder is refused.

    Raises:
        ConfigError: another process holds it: "Another {what} is writing {subject} ...; {fix}".
    """
    lock = RemovedLock(lock_path)
    if not lock.acquire(timeout=0):
        raise ConfigError(f"Another {what} is writing {subject} (lock {lock_path}); "
                          f"wait for it to finish or {fix}.")
    return lock


class ResumableLog:
    """The one append-only JSONL log of finished work, safe to ``kill -9`` at any point.

    Used as a context manager: entering takes ``<path>.lock`` without waiting (another live writer is
    refused with one clear error; a lock left by a killed process is free again, as ``filelock`` uses
    ``flock``), then cuts a torn last line. :meth:`read` returns the finished records;
    :meth:`append` writes whole lines and fsyncs, so a kill loses at most the group being written and
    never leaves a record counted twice. :meth:`add` groups appends for streams of small records: rows
    wait in memory until ``group_rows`` are waiting or ``group_seconds`` have passed (a background timer
    flushes a quiet stream too), then go out in one fsync'd write; leaving the ``with`` block (also by an
    exception) writes what waits. A ``kill -9`` loses at most the rows of the last ``group_seconds``.

    Args:
        path: the JSONL file.
        what: the command that writes it, for messages (e.g. "`harness eval`").
        fix: what to do when another writer holds it (e.g. "use a new --output-dir").
        group_rows: :meth:`add` writes as soon as this many rows wait.
        group_seconds: :meth:`add` writes rows at most this long after they arrived (about).

    Examples:
        >>> lg = ResumableLog(tmp / "work.jsonl", what="`harness synth`", fix="use a new --out")  # doctest: +SKIP
        >>> with lg:  # doctest: +SKIP
        ...     rows, n_bad = lg.read()
        ...     lg.append([{"key": "a"}])
    """

    def __init__(self, path: str | os.PathLike, *, what: str, fix: str, group_rows: int = 64,
                 group_seconds: float = 0.5) -> None:
        self.path = Path(path)
        self.what = what
        self.fix = fix
        self.group_rows = group_rows
        self.group_seconds = group_seconds
        self.torn_bytes_cut = 0
        self._lock: Any = None
        self._buf: list[dict] = []
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._timer_error: BaseException | None = None
        self._cut_to: int | None = None  # where a failed write must be cut back to before the next one

    def __enter__(self) -> ResumableLog:  # noqa: PYI034
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = acquire_or_refuse(f"{self.path}.lock", what=self.what, subject=self.path, fix=self.fix)
        self.torn_bytes_cut = repair_tail(self.path)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if self._timer is not None:
                self._stop.set()
                self._timer.join()
                self._timer = None
            if self._lock is not None:
                try:
                    self.flush()
                except StorageError:
                    if exc_type is None:
                        raise
                    # leaving by an error already: that one is reported; these rows are redone on resume
                    log.debug("%s: %d waiting row(s) not written", self.path, len(self._buf))
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def read(self) -> tuple[list[dict], int]:
        """``(records, n_bad_lines)``; unreadable lines are skipped (their work is redone) and counted."""
        return read_jsonl_tolerant(self.path)

    def append(self, rows: Iterable[dict]) -> None:
        """Append whole lines in one write, then fsync (after any rows waiting from :meth:`add`)."""
        with self._mutex:
            self._buf.extend(rows)
            self._write_locked()

    def add(self, rows: Iterable[dict]) -> None:
        """Queue rows for a grouped append (see the class docstring).

        Raises:
            StorageError: a grouped write failed (disk full, ...); the rows stay queued, so a later
                :meth:`flush` that succeeds still writes every one of them, once.
        """
        if self._timer_error is not None:
            raise self._timer_error
        with self._mutex:
            self._buf.extend(rows)
            if len(self._buf) >= self.group_rows:
                self._write_locked()
        if self._timer is None and self._lock is not None:
            self._timer = threading.Thread(target=self._tick, name="resumable-log-flush", daemon=True)
            self._timer.start()

    def flush(self) -> None:
        """Write every waiting row now (one write, one fsync)."""
        with self._mutex:
            self._write_locked()

    def _write_locked(self) -> None:
        """Write the waiting rows; on failure they stay waiting (never dropped) and the file is cut back
        to its last whole line before the next try, so a retried group is never written twice."""
        if self._lock is None:
            raise RuntimeError(f"ResumableLog({self.path}) is not open; use it as a context manager")
        if not self._buf:
            return
        if self._cut_to is not None:  # an earlier failed write could not be cut back then
            try:
                os.truncate(self.path, self._cut_to)
            except OSError as e:
                raise storage_error(self.path, e, self._kept()) from None
            self._cut_to = None
        start = self.path.stat().st_size if self.path.exists() else 0
        try:
            _append_lines(self.path, self._buf)
        except OSError as e:
            if self.path.exists() and self.path.stat().st_size != start:
                self._cut_to = start
            raise storage_error(self.path, e, self._kept()) from None
        self._buf = []

    def _kept(self) -> str:
        return (f" (the {len(self._buf)} newest record(s) wait in memory: written once space frees up, "
                "else redone on resume)")

    def _tick(self) -> None:
        while not self._stop.wait(self.group_seconds):
            try:
                self.flush()
            except BaseException as e:  # noqa: BLE001 - handed to the writer thread by the next add()
                self._timer_error = e
                return


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
