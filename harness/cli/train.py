"""``harness train``: supervised fine-tuning (DeepSpeed ZeRO, Skywork-Math recipe by default).

A thin layer over :func:`train.launch.run`: the flags are generated from
:class:`train.config.TrainConfig` (its field ``help`` is the one documentation of each option);
``python -m train.sft`` runs in a child process (``--nproc N``: N ranks under ``torchrun``; gloo on
CPU, NCCL on GPUs) that dies with this one.
"""

from __future__ import annotations

import click

from train.config import cli_options


@click.command("train")
@cli_options
def train(preset, **flags) -> None:
    """Fine-tune BASE on SFT JSONL data and save a checkpoint `harness eval` loads directly.

    Values come from the dataclass defaults, then --preset, then the flags given. Repeat --data for
    stages: stage 2 continues from stage 1's weights.

    \b
    Example:
        harness train --model ./base --data stage1.jsonl --data stage2.jsonl --output ckpt/
        harness train --model ./base --data sft.jsonl --output ckpt/ --deepspeed zero2 --nproc 2
        harness eval --model ckpt/ --tasks gsm8k,math500 --output-dir runs/sft
    """
    from harness.options import given
    from train.config import build_config
    from train.launch import run
    from train.sft import stage_lines

    cfg = build_config(preset=preset, overrides=given(flags))
    try:
        summary = run(cfg)
    except KeyboardInterrupt:  # one line with the way back, instead of click's "Aborted!"
        from harness.errors import Interrupted
        from train.sft import interrupted

        raise Interrupted(interrupted(cfg.output)) from None
    for line in stage_lines(summary):
        click.echo(line)
