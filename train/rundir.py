"""A training run directory: its file names, and the checks made before any process starts.

Shared by the launcher (:mod:`train.launch`, which checks before it starts the ranks) and the ranks
(:mod:`train.sft`), one floor below both so neither imports the other for them. The folder follows the
run-directory contract (:class:`harness.rundir.RunDir`): one lock, one manifest (``train_config.json``)
and the one resume policy and refusal of every stage.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from harness.errors import ConfigError
from harness.io import file_sha256
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
