"""Training configuration: a frozen :class:`TrainConfig`, YAML presets and validation.

A run's config is built in three layers: the dataclass defaults, a preset YAML
(``train/configs/<name>.yaml``, default ``skywork``), then command-line overrides. All
problems are reported at once in one :class:`~harness.errors.ConfigError` line.

Examples:
    >>> cfg = build_config(model="ckpt", data=("a.jsonl",), output="out", overrides={"lr": 1e-4})
    >>> cfg.lr, cfg.warmup_ratio
    (0.0001, 0.03)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError, did_you_mean

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEEPSPEED_PRESETS = ("zero2", "zero3")
#: Config fields that may differ between a run and its ``--resume`` (they don't change the result).
RESUME_FREE = ("resume", "nproc", "strict_data")

Scheduler = Literal["cosine", "linear", "constant_with_warmup"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one SFT run. Each field's ``help`` is its documentation."""

    model: str = field(default="", metadata={"help": "base checkpoint directory (config.json + weights)"})
    data: tuple[str, ...] = field(
        default=(), metadata={"help": "SFT JSONL files; each is a stage, trained in order"}
    )
    output: str = field(default="", metadata={"help": "run directory; the final HF checkpoint is saved here"})
    deepspeed: str = field(
        default="zero2", metadata={"help": "zero2, zero3, a DeepSpeed JSON config path, or none"}
    )
    epochs: float = field(default=3.0, metadata={"help": "epochs per stage"})
    lr: float = field(default=2e-5, metadata={"help": "peak learning rate (AdamW)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.03, metadata={"help": "fraction of steps with linear warmup"})
    scheduler: Scheduler = field(default="cosine", metadata={"help": "learning-rate schedule after warmup"})
    global_batch: int = field(
        default=32, metadata={"help": "examples per optimizer step, all ranks (sets grad_accum when unset)"}
    )
    batch_size: int = field(default=4, metadata={"help": "examples (or packs) per device per micro-step"})
    grad_accum: int | None = field(
        default=None, metadata={"help": "micro-steps per optimizer step (default: from global_batch)"}
    )
    max_length: int = field(default=2048, metadata={"help": "max tokens per example (or per pack)"})
    packing: bool = field(default=False, metadata={"help": "pack examples into max_length sequences"})
    lora: bool = field(default=False, metadata={"help": "LoRA adapters via peft (if installed)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint in output"})
    seed: int = field(default=42, metadata={"help": "data order and init seed"})
    save_steps: int = field(default=500, metadata={"help": "optimizer steps between resumable checkpoints"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept per stage"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    bf16: bool | None = field(default=None, metadata={"help": "bf16 training (default: on CUDA with bf16 only)"})
    strict_data: bool = field(
        default=False, metadata={"help": "fail (instead of skip and count) on responses with no final answer"}
    )
    nproc: int = field(default=1, metadata={"help": "processes on this machine (torchrun; gloo on CPU)"})
    max_steps: int = field(default=-1, metadata={"help": "stop each stage after this many steps (-1: epochs)"})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["data"] = list(self.data)
        return d


FIELD_NAMES = tuple(f.name for f in fields(TrainConfig))


def preset_path(name: str) -> Path:
    """The YAML file of a preset name (``skywork``) or a path to a YAML file.

    Raises:
        ConfigError: unknown preset name (with "did you mean").
    """
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    cand = CONFIG_DIR / f"{name}.yaml"
    if not cand.is_file():
        names = sorted(q.stem for q in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(did_you_mean(name, names, "training preset") + " Or pass a path to a .yaml file.")
    return cand


def load_preset(name: str) -> dict[str, Any]:
    """Read a preset YAML into a dict of :class:`TrainConfig` fields (validated names).

    Raises:
        ConfigError: unknown preset, unreadable YAML, or unknown keys.
    """
    import yaml

    path = preset_path(name)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"Preset {path} is not valid YAML ({e}). Fix the file.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"Preset {path}: expected a mapping of field: value, found {type(raw).__name__}.")
    bad = [k for k in raw if k not in FIELD_NAMES]
    if bad:
        raise ConfigError(
            f"Preset {path}: unknown key(s) {', '.join(sorted(bad))}. Allowed: {', '.join(FIELD_NAMES)}."
        )
    return raw


def build_config(
    *,
    model: str,
    data: tuple[str, ...] | list[str],
    output: str,
    preset: str | None = "skywork",
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Defaults, then the preset, then ``overrides`` (``None`` values are ignored); validated.

    Raises:
        ConfigError: every invalid value, reported at once.
    """
    values: dict[str, Any] = load_preset(preset) if preset else {}
    for k, v in (overrides or {}).items():
        if k not in FIELD_NAMES:
            raise ConfigError(did_you_mean(k, FIELD_NAMES, "training option"))
        if v is not None:
            values[k] = v
    values.update(model=str(model), data=tuple(str(d) for d in data), output=str(output))
    try:
        cfg = TrainConfig(**values)
    except TypeError as e:  # pragma: no cover - names are checked above
        raise ConfigError(str(e)) from None
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Check every field; raise one ConfigError listing all problems."""
    errs: list[str] = []
    if not cfg.model:
        errs.append("--model is required")
    if not cfg.data:
        errs.append("at least one --data file is required")
    if not cfg.output:
        errs.append("--output is required")
    for name in ("epochs", "lr"):
        if not getattr(cfg, name) > 0:
            errs.append(f"{name} must be > 0 (found {getattr(cfg, name)})")
    for name in ("global_batch", "batch_size", "max_length", "save_steps", "nproc", "lora_r"):
        v = getattr(cfg, name)
        if not isinstance(v, int) or v < 1:
            errs.append(f"{name} must be an integer >= 1 (found {v!r})")
    if cfg.grad_accum is not None and (not isinstance(cfg.grad_accum, int) or cfg.grad_accum < 1):
        errs.append(f"grad_accum must be an integer >= 1 (found {cfg.grad_accum!r})")
    if not 0 <= cfg.warmup_ratio < 1:
        errs.append(f"warmup_ratio must be in [0, 1) (found {cfg.warmup_ratio})")
    if cfg.weight_decay < 0:
        errs.append(f"weight_decay must be >= 0 (found {cfg.weight_decay})")
    if cfg.scheduler not in ("cosine", "linear", "constant_with_warmup"):
        errs.append(f"scheduler must be cosine, linear or constant_with_warmup (found {cfg.scheduler!r})")
    ds = cfg.deepspeed
    if ds not in DEEPSPEED_PRESETS + ("none",) and not (ds.endswith(".json") and Path(ds).is_file()):
        errs.append(f"deepspeed must be zero2, zero3, none or an existing .json file (found {ds!r})")
    if cfg.lora and (ds == "zero3" or (ds.endswith(".json") and _zero_stage(ds) == 3)):
        errs.append(
            "--lora is not supported with ZeRO-3 here (merging adapters into partitioned weights on save is "
            "not implemented; use --deepspeed zero2 or none)"
        )
    if errs:
        raise ConfigError("Invalid training config: " + "; ".join(errs) + ".")


def _zero_stage(path: str) -> int | None:
    """The ZeRO stage of a DeepSpeed JSON file, or None when unreadable (reported elsewhere)."""
    try:
        return int(json.loads(Path(path).read_text()).get("zero_optimization", {}).get("stage", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def deepspeed_config(cfg: TrainConfig) -> dict | None:
    """The DeepSpeed config dict for ``cfg.deepspeed`` ("auto" fields are filled by transformers from
    the TrainingArguments), or None for ``none``."""
    if cfg.deepspeed == "none":
        return None
    path = CONFIG_DIR / f"{cfg.deepspeed}.json" if cfg.deepspeed in DEEPSPEED_PRESETS else Path(cfg.deepspeed)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"Expected a DeepSpeed JSON config at {path}; could not read it ({e}).") from None


def grad_accum_for(cfg: TrainConfig, world_size: int) -> int:
    """Micro-steps per optimizer step: ``cfg.grad_accum`` if set, else global_batch / (batch x world).

    Raises:
        ConfigError: global_batch is not a multiple of batch_size x world_size.
    """
    if cfg.grad_accum is not None:
        return cfg.grad_accum
    per_step = cfg.batch_size * world_size
    if cfg.global_batch % per_step:
        raise ConfigError(
            f"global_batch {cfg.global_batch} is not a multiple of batch_size {cfg.batch_size} x "
            f"{world_size} process(es); change --batch-size or pass --grad-accum."
        )
    return max(1, cfg.global_batch // per_step)


def resume_mismatch(old: Mapping[str, Any], new: TrainConfig) -> list[str]:
    """Fields (other than :data:`RESUME_FREE`) whose value differs between a saved config and ``new``."""
    cur = new.to_dict()
    return sorted(k for k in cur if k not in RESUME_FREE and k in old and old[k] != cur[k])
