"""``harness loop --preset demo``: the whole loop on a laptop CPU, offline, in minutes.

1. Build a tiny Llama (byte-level BPE tokenizer trained on the demo's texts) and pre-train it with
   ``harness train``'s own code path on two topics of the verified generators (units and leading
   digit), so it is strong there and weak elsewhere.
2. Make a held-out benchmark from the generators: four topics (units, tens, leading digit, parity),
   each a cell (subject = topic); seeds disjoint from every training seed.
3. Run the real loop on it: ``harness eval`` (hf backend) -> weak cells -> generator synthesis
   (decontaminated against the benchmark and every registered test set) -> SFT (DeepSpeed ZeRO-2
   preset on CPU, or plain Trainer with ``deepspeed="none"``) -> re-evaluate -> leaderboard + plots.

Nothing is special-cased for the demo: it is a :class:`~harness.loop.LoopConfig` like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.io import atomic_write_json, write_jsonl

STRONG = ("digits/units", "digits/leading")
WEAK = ("digits/tens", "digits/parity")
TOPICS = STRONG + WEAK
BENCH_SEED = 10_007  # generator seeds for the benchmark; training data uses other seeds


@dataclass(frozen=True)
class DemoSize:
    eval_per_topic: int  # benchmark problems per topic (cell)
    pretrain_per_topic: int  # pre-training examples per strong topic
    budget: int  # synthetic examples per round
    rounds: int


SIZES = {
    "full": DemoSize(eval_per_topic=80, pretrain_per_topic=9600, budget=2400, rounds=3),
    "ci": DemoSize(eval_per_topic=40, pretrain_per_topic=6400, budget=1600, rounds=3),
}

#: Training settings of the demo (a ~0.6M-parameter model learns fast with a large learning rate).
TRAIN = {"epochs": 1.0, "lr": 1e-3, "batch_size": 32, "global_batch": 32, "max_length": 128}
MODEL: dict[str, Any] = {"hidden_size": 128, "layers": 3, "heads": 4, "intermediate_size": 256, "max_position_embeddings": 256}


def _say(msg: str) -> None:
    print(msg, flush=True)


def _rows(topic: str, n: int, seed: int, prompt: str) -> list[dict]:
    from harness.prompts import get_prompt
    from synth.generators import generate

    t = get_prompt(prompt)
    return [
        {"prompt": t.render(it["question"], 0).text, "response": t.format_response(it["solution"], it["answer"]),
         "answer": it["answer"], "question": it["question"], "subject": topic, "level": it["level"],
         "provenance": {"method": "generator", "generator": topic, "cell": ["pretrain", topic, 1]}}
        for it in generate(topic, n, seed=seed, level=1)
    ]


def build_benchmark(path: Path, size: DemoSize) -> Path:
    """The held-out benchmark: ``eval_per_topic`` generator problems per topic, subject = topic."""
    from synth.generators import generate

    if path.is_file():
        return path
    rows = []
    for topic in TOPICS:
        for it in generate(topic, size.eval_per_topic, seed=BENCH_SEED, level=1):
            rows.append({"id": it["id"], "question": it["question"], "answer": it["answer"],
                         "solution": it["solution"], "subject": topic, "level": it["level"]})
    write_jsonl(path, rows)
    return path


def build_base_model(root: Path, size: DemoSize, *, prompt: str, deepspeed: str, seed: int,
                     progress: bool = True) -> Path:
    """Tiny model pre-trained on the strong topics (resumable: finished artifacts are kept)."""
    from harness.tiny import build_tiny_checkpoint
    from train.config import build_config
    from train.launch import run

    init, ckpt = root / "init", root / "ckpt"
    if (ckpt / "train_summary.json").is_file():
        return ckpt
    data = root / "pretrain.jsonl"
    if not data.is_file():
        rows = []
        for i, topic in enumerate(STRONG):
            rows += _rows(topic, size.pretrain_per_topic, seed=1 + i, prompt=prompt)
        import random

        random.Random(seed).shuffle(rows)
        write_jsonl(data, rows)
    if not (init / "config.json").is_file():
        corpus = [r["prompt"] + r["response"] for t in TOPICS for r in _rows(t, 300, seed=99, prompt=prompt)]
        build_tiny_checkpoint(init, seed=seed, corpus=corpus, **MODEL)
    _say(f"[demo] pre-training the base model on {', '.join(STRONG)} -> {ckpt}")
    cfg = build_config(model=str(init), data=[str(data)], output=str(ckpt), preset="skywork",
                       overrides={**TRAIN, "deepspeed": deepspeed, "seed": seed, "resume": True, "progress": progress})
    run(cfg)
    return ckpt


def demo_config(run_dir: str, *, size: str = "full", deepspeed: str = "zero2", seed: int = 0,
                progress: bool = True) -> dict:
    """Prepare the demo's base model and benchmark; return the LoopConfig fields."""
    if size not in SIZES:
        raise ConfigError(f"Unknown demo size {size!r}; available: {', '.join(SIZES)}.")
    sz = SIZES[size]
    root = Path(run_dir) / "demo"
    root.mkdir(parents=True, exist_ok=True)
    bench = build_benchmark(root / "bench.jsonl", sz)
    prompt = "qwen-boxed"
    base = build_base_model(root / "base", sz, prompt=prompt, deepspeed=deepspeed, seed=seed, progress=progress)
    fields = {
        "model": str(base), "tasks": (str(bench),), "run_dir": str(run_dir), "rounds": sz.rounds, "target": 0.9,
        "budget": sz.budget, "replay": 0.25, "weak": {"top": 2, "min_samples": 20},
        "eval": {"prompt": prompt, "max_new_tokens": 40, "batch_size": 64},
        "train_preset": "skywork", "seed": seed, "train": {**TRAIN, "deepspeed": deepspeed},
    }
    atomic_write_json(root / "demo.json", {"size": size, **{k: list(v) if isinstance(v, tuple) else v
                                                            for k, v in fields.items()}})
    return fields


def demo_report(run_dir: str) -> str:
    """The demo's verdict: every cell's change from round 0 to the last round, with paired 95% CIs."""
    from harness.loop import compare_rounds

    root = Path(run_dir)
    summ = json.loads((root / "loop_summary.json").read_text())
    last = summ["rounds"][-1]["round"]
    if last == 0:
        return "[demo] the loop stopped before any round ran."
    targeted: set[tuple] = set()
    for r in range(1, last + 1):
        s = json.loads((root / f"round_{r:02d}" / "summary.json").read_text())
        targeted |= {tuple(t) for t in s["targeted"]}
    cmp = compare_rounds(root / "round_00" / "eval", root / f"round_{last:02d}" / "eval", targeted, "strict", 0.05)
    lines = [f"[demo] round 0 -> round {last}, per cell (paired 95% CI, exact McNemar p):"]
    for c in cmp["cells"]:
        tag = "targeted" if c["targeted"] else "untargeted"
        lines.append(f"  {c['subject']:16s} {tag:10s} {c['before']:6.1%} -> {c['after']:6.1%}  "
                     f"{c['diff'] * 100:+5.1f} pts [{c['ci'][0] * 100:+.1f}, {c['ci'][1] * 100:+.1f}] p={c['p']:.2g}")
    return "\n".join(lines)
