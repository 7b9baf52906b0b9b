"""Training configuration: a frozen :class:`TrainConfig`, YAML presets and validation.

A run's config is built in three layers: the dataclass defaults, a preset YAML
(``train/configs/<name>.yaml``, default ``skywork``), then command-line overrides. All
problems are reported at once in one :class:`~harness.errors.ConfigError` line. The dataclass is
the one declaration of every option: ``harness train`` and ``python -m train.sft`` flags, preset keys,
the loop's ``train:`` keys and the JSON file handed to training ranks all derive from it.

Examples:
    >>> cfg = build_config(model="ckpt", data=("a.jsonl",), output="out", overrides={"lr": 1e-4})
    >>> cfg.lr, cfg.warmup_ratio
    (0.0001, 0.03)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal

from harness.errors import ConfigError, did_you_mean
from harness.options import check, check_partial, from_mapping, load_yaml, to_dict

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEEPSPEED_PRESETS = ("zero2", "zero3")
#: Config fields that may differ between a run and its ``--resume`` (they don't change the result).
RESUME_FREE = ("resume", "nproc", "strict_data", "progress")

Scheduler = Literal["cosine", "linear", "constant_with_warmup"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one SFT run. Each field's ``help`` is its documentation; its type and
    range metadata are its validation (:mod:`harness.options`); CLI flags and YAML keys derive from it."""

    WHAT: ClassVar[str] = "training config"

    model: str = field(
        default="", metadata={"help": "base checkpoint directory (config.json + weights)", "required": True}
    )
    data: tuple[str, ...] = field(
        default=(), metadata={"help": "SFT JSONL files; each is a stage, trained in order", "required": True}
    )
    output: str = field(
        default="", metadata={"help": "run directory; the final HF checkpoint is saved here", "required": True}
    )
    deepspeed: str = field(
        default="zero2", metadata={"help": "zero2, zero3, a DeepSpeed JSON config path, or none"}
    )
    epochs: float = field(default=3.0, metadata={"help": "epochs per stage", "gt": 0})
    lr: float = field(default=2e-5, metadata={"help": "peak learning rate (AdamW)", "gt": 0})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "min": 0})
    warmup_ratio: float = field(
        default=0.03, metadata={"help": "fraction of steps with linear warmup", "min": 0, "lt": 1}
    )
    scheduler: Scheduler = field(default="cosine", metadata={"help": "learning-rate schedule after warmup"})
    global_batch: int = field(
        default=32,
        metadata={"help": "examples per optimizer step, all ranks (sets grad_accum when unset)", "min": 1},
    )
    batch_size: int = field(default=4, metadata={"help": "examples (or packs) per device per micro-step", "min": 1})
    grad_accum: int | None = field(
        default=None, metadata={"help": "micro-steps per optimizer step (default: from global_batch)", "min": 1}
    )
    max_length: int = field(
        default=2048, metadata={"help": "max tokens per example (or per pack); longer ones are skipped", "min": 1}
    )
    packing: bool = field(
        default=False, metadata={"help": "pack examples into max_length sequences (attention stays per example)"}
    )
    lora: bool = field(default=False, metadata={"help": "LoRA adapters on all linear layers (peft), merged on save"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank (alpha = 2 x rank)", "min": 1})
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint in output"})
    seed: int = field(default=42, metadata={"help": "data order and init seed"})
    save_steps: int = field(default=500, metadata={"help": "optimizer steps between resumable checkpoints", "min": 1})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept per stage", "min": 1})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping", "gt": 0})
    bf16: bool | None = field(default=None, metadata={"help": "bf16 training (default: on CUDA with bf16 only)"})
    strict_data: bool = field(
        default=False, metadata={"help": "fail (instead of skip and count) on responses with no final answer"}
    )
    nproc: int = field(default=1, metadata={"help": "processes on this machine (torchrun; gloo on CPU)", "min": 1})
    max_steps: int = field(
        default=-1, metadata={"help": "stop each stage after this many steps (-1: run the epochs)", "min": -1}
    )
    progress: bool = field(
        default=True, metadata={"help": "progress bars (off: no training or weight-loading bars)"}
    )

    def __post_init__(self) -> None:
        check(self, _cross_checks)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


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
    """Read a preset YAML into a dict of :class:`TrainConfig` fields (names, types and ranges checked).

    Raises:
        ConfigError: unknown preset, unreadable YAML, unknown keys or bad values (all at once).
    """
    path = preset_path(name)
    return check_partial(TrainConfig, load_yaml(path, "training preset"), where=f"preset {path}")


def build_config(
    *,
    model: str | None = None,
    data: tuple[str, ...] | list[str] | None = None,
    output: str | None = None,
    preset: str | None = "skywork",
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Defaults, then the preset, then ``overrides`` (``None`` values are ignored); validated.

    Raises:
        ConfigError: every invalid value, reported at once.
    """
    values: dict[str, Any] = load_preset(preset) if preset else {}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for k, v in (("model", model), ("data", data), ("output", output)):
        if v is not None:
            values[k] = str(v) if k != "data" else tuple(str(d) for d in v)
    return from_mapping(TrainConfig, values)


def cli_options(f):
    """The flags of ``harness train`` and ``python -m train.sft``: ``--preset`` and one per
    :class:`TrainConfig` field (help shows the skywork preset's values)."""
    import click

    from harness.options import click_options

    f = click_options(TrainConfig, shown=load_preset("skywork"))(f)
    return click.option("--preset", default="skywork", show_default=True,
                        help="Preset name in train/configs/ or a .yaml path (flags override its values).")(f)


def _cross_checks(cfg: TrainConfig) -> list[str]:
    """Rules between fields (types and ranges are checked from the field metadata)."""
    errs: list[str] = []
    ds = cfg.deepspeed
    if ds not in (*DEEPSPEED_PRESETS, "none") and not (ds.endswith(".json") and Path(ds).is_file()):
        errs.append(f"deepspeed: expected zero2, zero3, none or an existing .json file, found {ds!r}")
    if cfg.lora and (ds == "zero3" or (ds.endswith(".json") and _zero_stage(ds) == 3)):
        errs.append(
            "lora: not supported with ZeRO-3 here (merging adapters into partitioned weights on save is "
            "not implemented; use --deepspeed zero2 or none)"
        )
    if cfg.max_steps == 0:
        errs.append("max_steps: expected -1 (run the epochs) or an integer >= 1, found 0")
    if cfg.lora and not peft_installed():
        errs.append(PEFT_MISSING)
    return errs


PEFT_MISSING = ("lora: --lora needs the peft package, which is not installed. Install it with "
                "pip install 'mathharness[train]' (or pip install peft), or train without --lora")


def peft_installed() -> bool:
    """Whether ``import peft`` can work (checked before anything is launched)."""
    import importlib.util

    try:
        return importlib.util.find_spec("peft") is not None
    except (ImportError, ValueError):
        return False


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
