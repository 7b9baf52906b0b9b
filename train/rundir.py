"""A training run directory: its file names, and the checks made before any process starts.

Shared by the launcher (:mod:`train.launch`, which checks before it starts the ranks) and the ranks
(:mod:`train.sft`), one floor below both so neither imports the other for them. The folder follows the
run-directory contract (:class:`harness.rundir.RunDir`): one lock, one manifest (``train_config.json``)
and the one resume policy and refusal of every stage.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path

from harness.errors import ConfigError, StorageError
from harness.io import file_sha256, free_space
from harness.rundir import RunDir, hashed, resume_policy
from train.config import TrainConfig

#: The run's manifest: config, data hashes and counts, versions, commit, dates (written by rank 0).
CONFIG_FILE = "train_config.json"
LOSSES_FILE = "losses.jsonl"
SUMMARY_FILE = "train_summary.json"
LOCK_FILE = "train.lock"
PID_FILE = "train.pid"
#: How long a run waits for another process's lock on its output (an orphan dies within milliseconds).
LOCK_WAIT_S = 20.0


def check_base_model(model: str) -> None:
    """Raise one clear line when ``model`` is not a local checkpoint directory (or a hub-style id).

    Raises:
        ConfigError: a path that does not exist, or a folder without ``config.json``.
    """
    p = Path(model)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ConfigError(
                f"Expected a model checkpoint folder with config.json at {p}, found a folder without one. "
                "Pass --model the output of save_pretrained (or a finished harness train --output)."
            )
        return
    hub_like = model.count("/") == 1 and not model.startswith((".", "/", "~")) and not p.suffix
    if not hub_like:
        raise ConfigError(
            f"Expected a model checkpoint folder at {model}, found nothing there. Check the --model path."
        )


def check_data(data: Sequence[str]) -> None:
    """Raise one line naming every ``--data`` entry that cannot be a stage: a missing path, a directory
    (each stage is one JSONL file, trained in the order given, so a folder's files are not read in some
    order of its own: they are named one by one), or a file given twice (compared as files: ``./a.jsonl``,
    ``a.jsonl`` and a symlink to it are one file), which would train on the same rows twice.

    Raises:
        ConfigError: every problem at once.
    """
    errs: list[str] = []
    seen: dict[tuple, str] = {}
    for d in data:
        p = Path(d)
        if p.is_dir():
            inside = sorted(q.name for q in p.glob("*.jsonl"))
            listed = f" holding {', '.join(inside[:3])}{', ...' if len(inside) > 3 else ''}" if inside else ""
            errs.append(f"--data {d}: expected a JSONL file, found a directory{listed}; pass each file as its "
                        "own --data, in the order to train them (each is a stage)")
            continue
        if not p.is_file():
            errs.append(f"--data {d}: expected a JSONL file, found nothing there; check the path")
            continue
        st = p.stat()
        key = (st.st_dev, st.st_ino)
        if key in seen:
            same = f"{seen[key]} and {d} are" if seen[key] != d else f"{d} is"
            errs.append(f"--data {same} the same file given twice; each --data is a stage trained in turn, so "
                        "its rows would be trained twice. Pass it once (raise --epochs to train longer)")
        seen.setdefault(key, d)
    if errs:
        raise ConfigError("; ".join(errs) + ".")


def last_complete_checkpoint(stage_dir: str | os.PathLike) -> str | None:
    """The highest-step ``checkpoint-N`` folder whose save finished (``trainer_state.json`` is written
    last), so a run killed in the middle of a save resumes from the previous checkpoint."""
    stage_dir = Path(stage_dir)
    if not stage_dir.is_dir():
        return None
    done = [
        (int(p.name.split("-")[1]), p)
        for p in stage_dir.glob("checkpoint-*")
        if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return str(max(done)[1]) if done else None


def _stage_dirs(output: str | os.PathLike) -> list[tuple[int, Path]]:
    out = Path(output)
    if not out.is_dir():
        return []
    return sorted((int(p.name[5:]), p) for p in out.glob("stage*") if p.name[5:].isdigit() and p.is_dir())


def resume_point(output: str | os.PathLike) -> str | None:
    """What ``--resume`` continues from: the last complete checkpoint of the latest stage that has one,
    else the end of the latest finished stage; None when nothing was saved yet."""
    for k, stage_dir in reversed(_stage_dirs(output)):
        ckpt = last_complete_checkpoint(stage_dir)
        if ckpt:
            return ckpt
        if (stage_dir / "DONE.json").is_file():
            return f"the end of stage {k}"
    return None


def resume_hint(output: str | os.PathLike) -> str:
    """How to go on after a run stopped, e.g. "rerun the same command with --resume to continue from
    out/stage1/checkpoint-4" (``--resume`` is needed once ``train_config.json`` exists; it is harmless before)."""
    point = resume_point(output)
    if point:
        return f"rerun the same command with --resume to continue from {point}"
    return "no checkpoint was saved yet; rerun the same command with --resume to start it again"


#: What torch's zip writer says when a write fails part-way (it reports no errno).
_TORCH_WRITE_FAILED = ("unexpected pos", "PytorchStreamWriter failed", "file write failed", "iostream error")
#: Below this much free space a failed write is a full disk.
_FULL_BELOW = 1 << 20


def _disk_full_reason(e: BaseException, where: Path) -> str | None:
    """``"No space left on device"`` (or the quota's reason) when ``e`` or an exception it chains is a write
    that failed for space, else None. torch's writer gives no errno ("unexpected pos 4096 vs 3988"):
    its failure counts as a full disk when the folder has less than 1 MiB left."""
    seen: set[int] = set()
    cur: BaseException | None = e
    torch_write_failed = False
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT):
            return os.strerror(cur.errno)
        text = str(cur)
        for code in (errno.ENOSPC, errno.EDQUOT):
            if os.strerror(code) in text:  # safetensors' error wraps the OS error as text
                return os.strerror(code)
        torch_write_failed |= any(m in text for m in _TORCH_WRITE_FAILED)
        cur = cur.__cause__ or cur.__context__
    if torch_write_failed:
        import shutil

        try:
            if shutil.disk_usage(where).free < _FULL_BELOW:
                return os.strerror(errno.ENOSPC)
        except OSError:
            return None
    return None


def checkpoint_write_error(e: BaseException, stage_dir: str | os.PathLike, output: str | os.PathLike,
                           ) -> StorageError | None:
    """One line for a checkpoint or final save that failed for space, or None for any other error.

    It names the folder being written, the reason and the free space, and the checkpoint a ``--resume``
    continues from (complete checkpoints are never touched by a later save, and one whose save did not
    finish is skipped on resume: :func:`last_complete_checkpoint`).
    """
    stage_dir = Path(stage_dir)
    reason = _disk_full_reason(e, stage_dir if stage_dir.exists() else Path(output))
    if reason is None:
        return None
    done = last_complete_checkpoint(stage_dir)
    partial = [p for p in stage_dir.glob("checkpoint-*") if not (p / "trainer_state.json").is_file()]
    folder = max(partial, key=lambda p: p.stat().st_mtime) if partial else stage_dir
    go_on = (f"The previous checkpoint {done} is intact; free space, then rerun the same command with --resume to "
             "continue from it") if done else f"No checkpoint of this stage was complete yet; free space, then " \
                                             f"{resume_hint(output)}"
    return StorageError(f"could not write the checkpoint {folder}: {reason} ({free_space(folder)} free there). "
                        f"{go_on}.")


def run_dir(output: str | os.PathLike, *, wait_s: float = LOCK_WAIT_S) -> RunDir:
    """The training output folder under the run-directory contract (manifest ``train_config.json``)."""
    return RunDir(output, what="training process", fix="use a new --output", manifest=CONFIG_FILE,
                  lock=LOCK_FILE, wait_s=wait_s, pid_file=PID_FILE)


def _resumed_config(config: dict, data: Sequence[str], shas: Sequence[str]) -> dict:
    """What a resume must match: every option but :data:`~train.config.RESUME_FREE`, and each data
    file's content hash by its path (so a refusal names the file)."""
    from train.config import RESUME_FREE

    return {**{k: v for k, v in config.items() if k not in RESUME_FREE},
            "data_sha256": {str(p): h[:16] for p, h in zip(data, shas)}}


def prepare_run_dir(cfg: TrainConfig) -> dict | None:
    """Check the output folder against ``--resume`` (through :func:`harness.rundir.resume_policy`, the
    one policy and refusal of every stage); return the saved record when resuming.

    A resume must match the saved options (all but :data:`~train.config.RESUME_FREE`) and the content of
    every data file (sha256): training resumed on a changed file would mix two data sets.

    Raises:
        ConfigError: the folder holds a run and ``--resume`` is off, or the saved run's options or data
            differ (each named).
    """
    out = Path(cfg.output)
    rd = run_dir(out)
    saved = rd.saved()
    has_work = out.exists() and any(p.name.startswith("stage") for p in out.iterdir())
    if saved is not None and not cfg.resume:
        raise ConfigError(f"Output {out} already holds a training run. Pass --resume to continue it, "
                          "or choose a new --output.")
    if saved is None:
        if has_work and not cfg.resume:
            raise ConfigError(f"Output {out} holds stage folders from another run; pass --resume or a new --output.")
        return None
    if not isinstance(saved, dict):
        raise ConfigError(f"{rd.manifest_path}: {saved}; it records the run being resumed. "
                          "Restore it, or use a new --output.")
    old_cfg = saved.get("config") or {}
    old_shas = [d.get("sha256", "") for d in saved.get("data") or []]
    old = _resumed_config(old_cfg, old_cfg.get("data") or [], old_shas)
    new = _resumed_config(cfg.to_dict(), cfg.data, [file_sha256(p) if Path(p).is_file() else "missing"
                                                    for p in cfg.data])
    new = {k: v for k, v in new.items() if k in old}  # an option added since the run started is not a change
    resume_policy(out, hashed(old), hashed(new), has_work=True, fix="use the original settings and data, or a new --output")
    return saved
