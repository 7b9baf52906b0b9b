"""The one run-directory contract: a lock, a manifest holding the hashed config, append-only logs, and
one resume policy with one refusal message. Eval, synth, train, the loop and clean all go through it.

It knows no stage's config class: a stage hands it the config it hashes (plain JSON data, data-file
hashes included) inside its manifest, and says what counts as work already done. It stands beside
:mod:`harness.io` (which holds :class:`~harness.io.ResumableLog`, the log every stage appends to).

The policy (:func:`resume_policy`), the same for every stage:

- **no manifest, no work**: a new run; the manifest is written.
- **same config hash**: resume; the saved manifest is kept (it records when the run started).
- **different config, no work yet** (e.g. a mistyped ``--model`` that never loaded): the new manifest
  replaces the old.
- **different config with work**: refused with one line naming every changed field and the fix
  (:func:`harness.io.refuse_changed_config`), unless the stage accepts the change (``accept``: eval
  takes a larger ``--limit``), or the stage starts over (``on_change="restart"``: clean's chunk files).
- **work but the manifest is missing, empty or not JSON**: the stage's ``rebuild`` check decides; when
  the work matches this command's config the manifest is rebuilt from it (with a warning and a
  ``rebuilt`` date), else one line says what was found and how to recover.

Examples:
    >>> with RunDir("runs/x", what="`harness eval`", fix="use a new --output-dir") as rd:  # doctest: +SKIP
    ...     manifest = rd.resume({"config": cfg, "config_hash": config_hash(cfg)}, has_work=False)
    ...     with rd.log("samples.jsonl") as lg:
    ...         lg.append([{"key": 1}])
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError
from harness.io import (
    ResumableLog,
    atomic_write_json,
    config_hash,
    diff_fields,
    now_iso,
    refuse_changed_config,
)

log = logging.getLogger(__name__)


class Unreadable(str):
    """A saved manifest that exists but cannot be used; the text says why (empty, not JSON, ...)."""


def read_manifest(path: str | os.PathLike) -> dict | Unreadable | None:
    """The manifest at ``path``: a dict, ``None`` when absent, or :class:`Unreadable` saying why."""
    p = Path(path)
    if not p.is_file():
        return None
    text = p.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        return Unreadable("it is empty")
    try:
        obj = json.loads(text)
    except ValueError as e:
        return Unreadable(f"it is not valid JSON ({e})")
    if not isinstance(obj, dict):
        return Unreadable(f"it holds a JSON {type(obj).__name__}, not an object")
    return obj


def hashed(config: Mapping[str, Any]) -> dict:
    """``{"config": config, "config_hash": ...}``: the two keys every manifest carries."""
    return {"config": dict(config), "config_hash": config_hash(dict(config))}


def resume_policy(
    where: str | os.PathLike,
    saved: Mapping | Unreadable | None,
    manifest: Mapping,
    *,
    has_work: bool,
    fix: str,
    accept: Callable[[Mapping, Mapping], Mapping | None] | None = None,
    rebuild: Callable[[], str | None] | None = None,
    on_change: Literal["refuse", "restart"] = "refuse",
) -> tuple[dict, str]:
    """Decide whether this command may continue the work at ``where`` (the policy in the module docstring).

    Args:
        where: the folder or file named in messages.
        saved: the saved manifest (:func:`read_manifest`), or None.
        manifest: this command's manifest; it holds ``config`` and ``config_hash`` (:func:`hashed`).
        has_work: whether finished work exists (a non-empty log, saved chunks, checkpoints).
        fix: what the user should do instead, e.g. "use a new --output-dir".
        accept: ``(saved, manifest) -> manifest to keep`` for a change the stage can continue under, or
            None to refuse it (it may raise its own :class:`ConfigError` for a more precise message).
        rebuild: when the work has no usable manifest: ``None`` if the work matches this config (the
            manifest is rebuilt), else the reason it does not.
        on_change: "restart" discards the work instead of refusing (the caller deletes it).

    Returns:
        ``(manifest to keep, action)``; action is "new", "resume", "replace", "accept", "rebuild" or
        "restart". The caller writes the manifest when the action is not "resume".

    Raises:
        ConfigError: the one refusal (changed config), or work without a usable manifest that
            does not match this command.
    """
    new = dict(manifest)
    if saved is None or isinstance(saved, Unreadable):
        if not has_work:
            return new, "new"
        why = rebuild() if rebuild is not None else None
        state = "no manifest" if saved is None else f"an unusable manifest ({saved})"
        if rebuild is not None and why is None:
            log.warning("%s had %s; its work matches this command's config, so the manifest was rebuilt "
                        "from it", where, state)
            return {**new, "rebuilt": now_iso()}, "rebuild"
        if on_change == "restart":
            log.warning("%s had %s; starting over", where, state)
            return new, "restart"
        if rebuild is None:
            raise ConfigError(f"{where} holds finished work but {state}; restore it, or {fix}.")
        raise ConfigError(f"{where} holds finished work but {state}, and the work does not match this "
                          f"command ({why}): re-run the command that made it (the manifest is then rebuilt), "
                          f"or {fix}.")
    if saved.get("config_hash") == new.get("config_hash"):
        return dict(saved), "resume"
    if not has_work:
        return new, "replace"
    if accept is not None:
        kept = accept(saved, new)
        if kept is not None:
            return dict(kept), "accept"
    if on_change == "restart":
        log.warning("%s was made with another config (%s); starting over", where,
                    "; ".join(diff_fields(saved.get("config") or {}, new.get("config") or {})) or "config")
        return new, "restart"
    refuse_changed_config(where, saved.get("config") or {}, new.get("config") or {}, fix)
    return new, "replace"  # the configs hash alike (a manifest whose config_hash was edited): its own config


class RunDir:
    """A run folder under the contract above: held under a lock while open (a second live writer is
    refused with one line; a lock left by a killed process is free, ``flock``), with one manifest file
    and :class:`~harness.io.ResumableLog` logs. Leaving it (finished or failed) removes the lock and pid
    files (:class:`~harness.io.RemovedLock`), and the folder when this run created it and wrote nothing
    there, so a refused or failed start leaves nothing behind.

    Args:
        path: the folder (created on entry; removed on exit if still empty and created here).
        what: who writes it, for messages ("`harness eval`").
        fix: what to do instead when refused ("use a new --output-dir").
        manifest: the manifest's file name in the folder.
        lock: the lock file: a name (``str``) in the folder, or a ``Path`` (clean keeps it outside the
            folder, which it may delete).
        wait_s: wait this long for another holder before refusing (train: an orphan of a killed launcher
            dies within moments).
        pid_file: a file name in the folder that holds the holder's pid while open (named in refusals).
    """

    def __init__(self, path: str | os.PathLike, *, what: str, fix: str, manifest: str = "manifest.json",
                 lock: str | Path = "run.lock", wait_s: float = 0.0, pid_file: str | None = None) -> None:
        self.path = Path(path)
        self.what = what
        self.fix = fix
        self.manifest_path = self.path / manifest
        self.lock_path = lock if isinstance(lock, Path) else self.path / str(lock)
        self.wait_s = wait_s
        self.pid_path = self.path / pid_file if pid_file else None
        self._lock: Any = None
        self._created = False
        self.action = ""  # what :meth:`resume` decided (see resume_policy)

    def __enter__(self) -> RunDir:  # noqa: PYI034
        from harness.io import RemovedLock

        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        lock = RemovedLock(self.lock_path)
        if not lock.acquire(timeout=0):
            other = self._holder()
            if self.wait_s > 0:
                log.warning("waiting for %s, still writing %s, to exit", other or "another process", self.path)
            if not lock.acquire(timeout=self.wait_s):
                stop = f" or stop it (kill {other})" if other else ""
                raise ConfigError(f"Another {self.what}{f' (pid {other})' if other else ''} is still writing "
                                  f"{self.path} (lock {self.lock_path}); wait for it to finish{stop}, then "
                                  f"re-run; or {self.fix}.")
        self._lock = lock
        if self.pid_path is not None:
            self.pid_path.write_text(f"{os.getpid()}\n")
        return self

    def __exit__(self, *exc: object) -> None:
        """Remove the pid and lock files (a run that ends, finished or failed, leaves none behind), and the
        folder itself when this run created it and left it empty (a refused or failed start)."""
        if self._lock is None:
            return
        try:
            if self.pid_path is not None:
                self.pid_path.unlink(missing_ok=True)
        finally:
            self._lock.release()
            self._lock = None
        if self._created:
            try:
                self.path.rmdir()  # only succeeds on an empty folder
            except OSError:
                pass

    def _holder(self) -> str | None:
        if self.pid_path is None or not self.pid_path.is_file():
            return None
        return self.pid_path.read_text().strip() or None

    def saved(self) -> dict | Unreadable | None:
        """The saved manifest (see :func:`read_manifest`)."""
        return read_manifest(self.manifest_path)

    def resume(self, manifest: Mapping, *, has_work: bool, write: bool = True, **policy: Any) -> dict:
        """Apply :func:`resume_policy` to this folder's saved manifest; write the kept manifest when it
        changed (unless ``write`` is False: the stage writes it later, e.g. after its model loaded).
        ``self.action`` tells what was decided."""
        kept, self.action = resume_policy(self.path, self.saved(), manifest, has_work=has_work, fix=self.fix,
                                          **policy)
        if write and self.action != "resume":
            self.write_manifest(kept)
        return kept

    def write_manifest(self, manifest: Mapping) -> None:
        atomic_write_json(self.manifest_path, dict(manifest))

    def log(self, name: str, **kw: Any) -> ResumableLog:
        """The append-only log ``name`` in this folder (open it with ``with``)."""
        return ResumableLog(self.path / name, what=self.what, fix=self.fix, **kw)
