"""``harness train``: supervised fine-tuning (DeepSpeed ZeRO, Skywork-Math recipe by default).

A thin layer over :mod:`train.sft`: one process runs in place; ``--nproc N`` launches N ranks
with ``torchrun`` (gloo on CPU, NCCL on GPUs) running the same ``python -m train.sft`` script.
"""

from __future__ import annotations

import subprocess

import click

from harness.errors import HarnessError


@click.command("train")
@click.option("--model", required=True, help="Base checkpoint folder (config.json + weights + tokenizer).")
@click.option(
    "--data", "data", multiple=True, required=True,
    help="SFT JSONL (prompt/response rows). Repeat for stages: stage 2 continues from stage 1's weights.",
)
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Run folder; final checkpoint here.")
@click.option("--preset", default="skywork", show_default=True, help="Preset name in train/configs/ or a .yaml path.")
@click.option("--deepspeed", default=None, help="zero2, zero3, a DeepSpeed .json config, or none. [preset: zero3]")
@click.option("--epochs", type=float, default=None, help="Epochs per stage. [preset: 3]")
@click.option("--lr", type=float, default=None, help="Peak learning rate. [preset: 2e-5; 2e-6 for Mistral/DeepSeekMath]")
@click.option("--batch-size", type=int, default=None, help="Examples (or packs) per device per micro-step. [preset: 4]")
@click.option("--grad-accum", type=int, default=None, help="Micro-steps per optimizer step. [default: from global batch]")
@click.option("--global-batch", type=int, default=None, help="Examples per optimizer step, all ranks. [preset: 32]")
@click.option("--max-length", type=int, default=None, help="Max tokens per example/pack; longer ones are skipped. [2048]")
@click.option("--packing", is_flag=True, default=None, help="Pack examples into max-length sequences; attention stays per example.")
@click.option("--lora", is_flag=True, default=None, help="Train LoRA adapters on all linear layers (peft), merged on save.")
@click.option("--lora-r", type=int, default=None, help="LoRA rank (alpha = 2 x rank). [16]")
@click.option("--resume", is_flag=True, default=None, help="Continue from the last checkpoint in --output.")
@click.option("--seed", type=int, default=None, help="Data order and init seed. [preset: 42]")
@click.option("--save-steps", type=int, default=None, help="Optimizer steps between resumable checkpoints. [500]")
@click.option("--max-steps", type=int, default=None, help="Stop each stage after this many steps (smoke tests).")
@click.option("--strict-data", is_flag=True, default=None, help="Fail on a response with no final answer (default: skip, count).")
@click.option("--nproc", type=int, default=1, show_default=True, help="Processes on this machine (torchrun).")
def train(model, data, output, preset, nproc, **overrides) -> None:
    """Fine-tune BASE on SFT JSONL data and save a checkpoint `harness eval` loads directly.

    \b
    Example:
        harness train --model ./base --data stage1.jsonl --data stage2.jsonl --output ckpt/
        harness train --model ./base --data sft.jsonl --output ckpt/ --deepspeed zero2 --nproc 2
        harness eval --model ckpt/ --tasks gsm8k,math500 --output-dir runs/sft
    """
    from train.config import build_config
    from train.launch import child_env, torchrun_command

    cfg = build_config(model=model, data=data, output=output, preset=preset, overrides={**overrides, "nproc": nproc})
    if nproc == 1:
        from train.sft import run

        summary = run(cfg)
    else:
        from train.sft import check_base_model, config_to_argv, prepare_run_dir

        check_base_model(cfg.model)
        prepare_run_dir(cfg)
        rc = subprocess.call(torchrun_command(nproc, config_to_argv(cfg, preset)), env=child_env())
        if rc != 0:
            raise HarnessError(f"training with {nproc} processes failed (exit {rc}); the ranks' errors are above.")
        import json
        from pathlib import Path

        summary = json.loads((Path(cfg.output) / "train_summary.json").read_text())
    for st in summary["stages"]:
        tps = st.get("tokens_per_s")
        click.echo(
            f"stage {st['stage']}: {st['steps']} steps, final loss {st['final_loss']:.4f}, "
            f"{(tps or 0):,.0f} tokens/s -> {st['saved_to']}"
        )
