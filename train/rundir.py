"""A training run directory: its file names, and the checks made before any process starts.

Shared by the launcher (:mod:`train.launch`, which checks before it starts the ranks) and the ranks
(:mod:`train.sft`), one floor below both so neither imports the other for them.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import ConfigError
from train.config import TrainConfig, resume_mismatch

CONFIG_FILE = "train_config.json"
LOSSES_FILE = "losses.jsonl"
SUMMARY_FILE = "train_summary.json"


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


def prepare_run_dir(cfg: TrainConfig) -> dict | None:
    """Check the output folder against ``--resume``; return the saved config when resuming.

    Raises:
        ConfigError: the folder holds a run and ``--resume`` is off, or the saved run's config differs.
    """
    out = Path(cfg.output)
    saved = out / CONFIG_FILE
    if saved.is_file():
        old = json.loads(saved.read_text())
        if not cfg.resume:
            raise ConfigError(
                f"Output {out} already holds a training run. Pass --resume to continue it, "
                "or choose a new --output."
            )
        diff = resume_mismatch(old.get("config", {}), cfg)
        if diff:
            raise ConfigError(
                f"--resume: the run in {out} was started with different {', '.join(diff)}. "
                "Use the original settings, or a new --output."
            )
        return old
    if out.exists() and any(p.name.startswith("stage") for p in out.iterdir()) and not cfg.resume:
        raise ConfigError(f"Output {out} holds stage folders from another run; pass --resume or a new --output.")
    return None
