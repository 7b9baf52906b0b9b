"""Supervised fine-tuning with the transformers ``Trainer`` and a DeepSpeed ZeRO config.

Run it directly, under ``torchrun`` or under the ``deepspeed`` launcher; the script is the same::

    python -m train.sft --model BASE --data stage1.jsonl --data stage2.jsonl --output ckpt/
    torchrun --nproc_per_node 8 -m train.sft --model BASE --data stage1.jsonl --output ckpt/
    deepspeed --num_gpus 8 -m train.sft --model BASE --data stage1.jsonl --output ckpt/

Its flags are those of ``harness train`` (both generated from :class:`~train.config.TrainConfig`).
``harness train``, the loop and the demo start it through :func:`train.launch.run`, which hands the
config over as a JSON file (``--config-file``).

Each ``--data`` file is a stage, trained in order; stage k+1 starts from stage k's weights. The
run directory (``--output``) ends up holding a normal HF checkpoint (model + tokenizer) plus
``train_config.json`` (config, data hashes and counts, versions, commit, date), ``losses.jsonl``
(one row per optimizer step) and ``train_summary.json`` (time, tokens/s, peak memory); while a run
trains, rank 0 holds ``train.lock`` (pid in ``train.pid``; both removed when it ends).
Stage k's resumable Trainer checkpoints live in ``<output>/stage<k>/checkpoint-<step>``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import click

from harness.errors import ConfigError, HarnessError
from harness.io import ResumableLog, atomic_write_json, file_sha256, git_commit, now_iso, write_jsonl
from train.config import (
    PEFT_MISSING,
    TrainConfig,
    build_config,
    cli_options,
    deepspeed_config,
    grad_accum_for,
)
from train.data import DataStats, PackCollator, PadCollator, load_sft_dataset, pack_examples
from train.launch import ERROR_ENV, die_with_parent, ensure_dist_env, hold_output, prepare_deepspeed_ops
from train.rundir import (
    CONFIG_FILE,
    LOSSES_FILE,
    SUMMARY_FILE,
    check_base_model,
    check_data,
    checkpoint_write_error,
    last_complete_checkpoint,
    prepare_run_dir,
    resume_hint,
)

log = logging.getLogger(__name__)

def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


class StageLog:
    """A ``TrainerCallback`` (rank 0) that appends one row per optimizer step to ``losses.jsonl`` (a
    :class:`~harness.io.ResumableLog`) and shows one progress bar with the latest loss, instead of
    the Trainer's printed log dicts."""

    def __new__(cls, log_: ResumableLog, stage: int, progress: bool):
        from transformers import TrainerCallback

        from harness.progress import bar

        class _Cb(TrainerCallback):
            bar = None

            def on_train_begin(self, args, state, control, **kw):
                if state.is_world_process_zero:
                    self.bar = bar(total=state.max_steps, initial=state.global_step, desc=f"train stage {stage}",
                                   unit="step", disable=not progress, dynamic_ncols=True)

            def on_step_end(self, args, state, control, **kw):
                if self.bar is not None:
                    self.bar.update(state.global_step - self.bar.n)

            def on_log(self, args, state, control, logs=None, **kw):
                if not state.is_world_process_zero or not logs or "loss" not in logs:
                    return
                row = {"stage": stage, "step": state.global_step, "epoch": state.epoch, "time": now_iso()}
                for k in ("loss", "learning_rate", "grad_norm"):
                    if k in logs:
                        row[k] = float(logs[k])
                log_.append([row])
                if self.bar is not None:
                    self.bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)

            def on_train_end(self, args, state, control, **kw):
                if self.bar is not None:
                    self.bar.close()

        return _Cb()


def _drop_logged_after(log_: ResumableLog, stage: int, step: int) -> None:
    """On resume: forget loss rows of ``stage`` past the checkpoint, so no step is counted twice."""
    rows, _ = log_.read()
    keep = [r for r in rows if r.get("stage", 0) < stage or (r.get("stage") == stage and r.get("step", 0) <= step)]
    if len(keep) != len(rows):
        write_jsonl(log_.path, keep)


def _peak_memory_mb() -> dict[str, float]:
    import torch

    mem = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.cuda.is_available():
        mem["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return mem


def _load_model(path: str, bf16: bool, cfg: TrainConfig):
    """Load the base causal LM for training; with ``--packing`` switch it to per-example attention,
    with ``--lora`` wrap it in peft LoRA adapters on every linear layer (the base weights frozen).

    Returns:
        ``(model to train, the underlying transformers model, attention name to restore before saving or None)``.

    Raises:
        ConfigError: not a causal LM checkpoint; ``--lora`` without peft installed.
    """
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if bf16 else torch.float32)
    except (OSError, ValueError) as e:
        raise ConfigError(f"Could not load a causal LM from {path} ({str(e).splitlines()[0]}).") from None
    model.config.use_cache = False  # training; restored before saving so the checkpoint generates with a cache
    base_model, attn_restore = model, None
    if cfg.packing:
        from train.attention import use_packed_attention

        # per-example causal attention instead of a dense block-diagonal mask over each pack
        attn_restore = use_packed_attention(model)
    if cfg.lora:
        try:
            import peft
        except ImportError:
            raise ConfigError(PEFT_MISSING.removeprefix("lora: ") + ".") from None
        model = peft.get_peft_model(
            model,
            peft.LoraConfig(
                r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, lora_dropout=0.0, target_modules="all-linear",
                task_type="CAUSAL_LM",
            ),
        )
        if _rank() == 0:
            n_train, n_all = model.get_nb_trainable_parameters()
            log.warning("--lora: training %d of %d parameters (rank %d, all linear layers)", n_train, n_all, cfg.lora_r)
    return model, base_model, attn_restore


@contextlib.contextmanager
def _saves_checked(stage_dir: Path, out: Path):
    """A checkpoint or final save that fails for space becomes one :class:`~harness.errors.StorageError`
    line (the folder, the reason, the checkpoint a ``--resume`` continues from) instead of a traceback
    whose first cause is torch's "unexpected pos 4096 vs 3988"."""
    try:
        yield
    except HarnessError:
        raise
    except Exception as e:
        err = checkpoint_write_error(e, stage_dir, out)
        if err is None:
            raise
        raise err from None


def train_stage(
    cfg: TrainConfig,
    stage: int,
    examples: list[dict],
    stats: DataStats,
    base: str,
    tokenizer,
    losses: ResumableLog | None,
) -> dict[str, Any]:
    """Train one stage from ``base`` and save its final weights; returns the stage summary.

    ``losses`` is the open loss log on rank 0 (None on the other ranks)."""
    import torch
    from transformers import Trainer, TrainingArguments

    out = Path(cfg.output)
    last_stage = stage == len(cfg.data)
    stage_dir = out / f"stage{stage}"
    final_dir = out if last_stage else stage_dir / "final"
    cuda = torch.cuda.is_available()
    bf16 = cfg.bf16 if cfg.bf16 is not None else bool(cuda and torch.cuda.is_bf16_supported())
    ga = grad_accum_for(cfg, _world())
    args = TrainingArguments(
        output_dir=str(stage_dir),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=ga,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,
        lr_scheduler_type=cfg.scheduler,
        max_grad_norm=cfg.max_grad_norm,
        optim="adamw_torch",
        bf16=bf16,
        use_cpu=not cuda,
        deepspeed=deepspeed_config(cfg),
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,  # StageLog shows one bar on rank 0
    )
    if args.deepspeed:
        import deepspeed

        prepare_deepspeed_ops()  # before DeepSpeed builds it under torch's owner-less lock file
        # ZeRO-3's zero.Init reads the world size from DeepSpeed's own communicator while loading.
        with contextlib.redirect_stdout(io.StringIO()):  # "DeepSpeed ... op built successfully", per rank
            deepspeed.init_distributed()
    # After TrainingArguments, so ZeRO-3 partitions the weights while loading (zero.Init).
    model, base_model, attn_restore = _load_model(base, bf16, cfg)
    train_data = pack_examples(examples, cfg.max_length) if cfg.packing else examples
    collator = (PackCollator if cfg.packing else PadCollator)(tokenizer.pad_token_id)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_data,
        data_collator=collator,
        processing_class=tokenizer,
    )
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)  # prints a dict per step
    trainer.remove_callback(ProgressCallback)
    if losses is not None:
        trainer.add_callback(StageLog(losses, stage, cfg.progress))
    resume_from = last_complete_checkpoint(stage_dir) if cfg.resume else None
    start_epoch, start_step = 0.0, 0
    if resume_from:
        st = json.loads((Path(resume_from) / "trainer_state.json").read_text())
        start_epoch, start_step = float(st.get("epoch") or 0), int(st.get("global_step") or 0)
        if losses is not None:
            _drop_logged_after(losses, stage, start_step)
            log.warning("stage %d: resuming from %s (step %d)", stage, resume_from, start_step)
    with _saves_checked(stage_dir, out):
        result = trainer.train(resume_from_checkpoint=resume_from)
        runtime = float(result.metrics.get("train_runtime", 0.0))
        trainer.model.config.use_cache = True
        if attn_restore:  # the saved checkpoint must not name the training-only attention implementation
            base_model.set_attn_implementation(attn_restore)
        # Every rank takes part in the save (ZeRO-3 gathers the 16-bit weights from all ranks).
        if cfg.lora:
            # fold the adapters into the base weights: the checkpoint is a plain HF model (no peft needed to load)
            merged = trainer.model.merge_and_unload()
            if _rank() == 0:
                merged.save_pretrained(final_dir)
                tokenizer.save_pretrained(final_dir)
        else:
            trainer.save_model(str(final_dir))
    epochs_run = float(trainer.state.epoch or 0) - start_epoch
    tokens = stats.tokens * epochs_run
    summary = {
        "stage": stage,
        "data": stats.path,
        "packs": len(train_data) if cfg.packing else None,
        "steps": trainer.state.global_step,
        "steps_this_session": trainer.state.global_step - start_step,
        "resumed_from": resume_from,
        "epochs": trainer.state.epoch,
        "train_runtime_s": runtime,
        "tokens_this_session": int(tokens),
        "tokens_per_s": tokens / runtime if runtime > 0 else None,
        "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
        "grad_accum": ga,
        "global_batch": cfg.batch_size * ga * _world(),
        "bf16": bf16,
        "saved_to": str(final_dir),
        **_peak_memory_mb(),
    }
    if _rank() == 0:
        atomic_write_json(stage_dir / "DONE.json", summary)
    del trainer, model
    return summary


def _quiet() -> None:
    """One line per fact: each FutureWarning once (DeepSpeed's ZeRO calls a deprecated torch collective
    on every step), no accelerator guess on a CPU machine, and no weight loading/saving bars (a
    training shows one bar, :class:`StageLog`, and one summary line per stage)."""
    warnings.filterwarnings("once" if _rank() == 0 else "ignore", category=FutureWarning)  # rank 0 says it
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # else DeepSpeed prints a warning per import
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def run(cfg: TrainConfig) -> dict[str, Any]:
    """Run every stage of ``cfg`` in this process (one rank); returns the run summary (also written
    to ``train_summary.json``). Rank 0 holds the output folder's lock throughout.

    Raises:
        ConfigError: bad model path, output/--resume conflicts, invalid settings, another live
            process training into the same output.
        DataError: unusable data (checked for every stage before any training starts).
    """
    ensure_dist_env()
    if "OMP_NUM_THREADS" not in os.environ and _world() > 1:
        os.environ["OMP_NUM_THREADS"] = "1"
    check_base_model(cfg.model)
    check_data(cfg.data)
    if _rank() != 0:
        return _run(cfg, None, None)
    with hold_output(cfg.output):
        old = prepare_run_dir(cfg)  # under the lock: nothing changes the folder between check and training
        with ResumableLog(Path(cfg.output) / LOSSES_FILE, what="`harness train`", fix="use a new --output") as lg:
            return _run(cfg, old, lg)


def _run(cfg: TrainConfig, old: dict | None, losses: ResumableLog | None) -> dict[str, Any]:
    _quiet()
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    except (OSError, ValueError) as e:
        raise ConfigError(f"Could not load a tokenizer from {cfg.model} ({str(e).splitlines()[0]}).") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    datasets = [load_sft_dataset(p, tokenizer, max_length=cfg.max_length, strict=cfg.strict_data) for p in cfg.data]
    out = Path(cfg.output)
    if _rank() == 0:
        import deepspeed
        import torch
        import transformers

        this = {
            "world_size": _world(),
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "deepspeed": deepspeed.__version__},
            "commit": git_commit(),
        }
        if old:  # the first record stays (its config and data hashes are what was checked); resumes are added
            record = {**old, "resumed": now_iso(),
                      "resumes": [*old.get("resumes", []), {"date": now_iso(), **this,
                                                            "config": cfg.to_dict()}]}
        else:
            record = {"config": cfg.to_dict(),
                      "data": [{"sha256": file_sha256(p), **s.as_dict()} for p, (_, s) in zip(cfg.data, datasets)],
                      **this, "started": now_iso(), "resumed": None}
        atomic_write_json(out / CONFIG_FILE, record)
    t0 = time.time()
    base = cfg.model
    stages = []
    for k, (examples, stats) in enumerate(datasets, 1):
        done = out / f"stage{k}" / "DONE.json"
        final_dir = out if k == len(cfg.data) else out / f"stage{k}" / "final"
        if cfg.resume and done.is_file():
            if losses is not None:
                log.warning("stage %d already finished; continuing from %s", k, final_dir)
            stages.append(json.loads(done.read_text()))
        else:
            stages.append(train_stage(cfg, k, examples, stats, base, tokenizer, losses))
        base = str(final_dir)
    summary = {
        "model": cfg.model,
        "output": str(out),
        "stages": stages,
        "wall_s": time.time() - t0,
        "finished": now_iso(),
        "commit": git_commit(),
    }
    if _rank() == 0:
        atomic_write_json(out / SUMMARY_FILE, summary)
    return summary


def interrupted(output: str | os.PathLike) -> str:
    """The one line after Ctrl-C: what stopped and how the same command goes on."""
    return f"training {output} was interrupted (Ctrl-C); {resume_hint(output)}."


def stage_lines(summary: dict[str, Any]) -> list[str]:
    """One line per trained stage: steps, final loss, throughput, where it was saved."""
    return [f"stage {st['stage']}: {st['steps']} steps, final loss {st['final_loss'] or float('nan'):.4f}, "
            f"{(st.get('tokens_per_s') or 0):,.0f} tokens/s -> {st['saved_to']}" for st in summary["stages"]]


@click.command("python -m train.sft", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config-file", type=click.Path(dir_okay=False), default=None,
              help="A TrainConfig JSON (written by train.launch.run for its ranks); replaces the flags below.")
@click.option("--local_rank", "--local-rank", "local_rank", hidden=True, default=None,
              help="Passed by the deepspeed launcher; $LOCAL_RANK is what is used.")
@cli_options
def main(config_file, local_rank, preset, **flags) -> None:
    """Supervised fine-tuning, one rank: `harness train` launches it; torchrun and deepspeed can too.

    \b
    Example:
        torchrun --nproc_per_node 8 -m train.sft --model ./base --data sft.jsonl --output ckpt/
    """
    die_with_parent()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from harness.options import given, read_json

    cfg: TrainConfig | None = None
    try:
        if config_file:
            if given(flags):
                raise ConfigError(f"--config-file replaces the other flags; found also {', '.join(given(flags))}.")
            cfg = read_json(TrainConfig, config_file)
        else:
            cfg = build_config(preset=preset, overrides=given(flags))
        summary = run(cfg)
    except HarnessError as e:
        if _rank() == 0:
            if os.environ.get(ERROR_ENV):  # launched by train.launch.run: the parent prints it
                Path(os.environ[ERROR_ENV]).write_text(str(e))
            else:
                print(f"Error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:  # Ctrl-C: the files were closed and the locks removed on the way out
        if _rank() == 0 and not os.environ.get(ERROR_ENV):  # else the launching process says it, once
            print(f"Error: {interrupted(cfg.output) if cfg else 'interrupted (Ctrl-C).'}", file=sys.stderr)
        sys.exit(130)
    if _rank() == 0 and not os.environ.get(ERROR_ENV):
        for line in stage_lines(summary):
            print(line)


if __name__ == "__main__":
    main()
