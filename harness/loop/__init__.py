"""The closed loop: evaluate -> weak cells -> synthesize -> SFT -> re-evaluate -> record, per round.

Every step leaves its artifact in the run directory, so the loop is a resumable state machine:
after a crash or ``kill``, the same command continues at the step that did not finish.

Layout of ``RUN_DIR``::

    loop.json                 config + config hash (a changed config is refused)
    round_00/eval/            base model evaluation (a harness eval run dir)
    round_01/plan.json        weak cells chosen from the previous evaluation (+ replay cells)
    round_01/data.jsonl       synthetic SFT data (+ data.jsonl.report.json)
    round_01/ckpt/            fine-tuned checkpoint (train_summary.json marks it finished)
    round_01/eval/            its evaluation
    round_01/summary.json     per-cell change vs the previous round (paired CI, McNemar p), decision
    leaderboard/              records, tables and plots of every round
    scaling.jsonl             per round and cell: cumulative synthetic examples and accuracy
    loop_summary.json         why the loop stopped

Stopping: the target accuracy reached on every task, ``rounds`` done, or a round whose targeted
cells gained nothing significant (paired test at ``alpha``). A round that significantly lowers an
untargeted cell is reported (Skywork-Math saw stage 2 lower GSM8K).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError, did_you_mean
from harness.io import append_jsonl, atomic_write_json, config_hash, now_iso, read_jsonl_tolerant

log = logging.getLogger(__name__)

STATE = "loop.json"
UNHASHED = ("run_dir", "eval_batch_size")  # may change on resume without changing results


@dataclass(frozen=True)
class LoopConfig:
    """Everything ``harness loop`` takes; every CLI flag maps to a field, and a YAML file can set any."""

    model: str = field(default="", metadata={"help": "base checkpoint (round 0 model)"})
    tasks: tuple[str, ...] = field(default=(), metadata={"help": "tasks to evaluate and improve (names or JSONL paths)"})
    run_dir: str = field(default="", metadata={"help": "loop run directory (resumable)"})
    rounds: int = field(default=2, metadata={"help": "maximum rounds of synth + train"})
    target: float | None = field(default=None, metadata={"help": "stop when every task reaches this accuracy; also the weak-cell reference"})
    budget: int = field(default=1000, metadata={"help": "new synthetic examples per round"})
    top: int = field(default=3, metadata={"help": "weak cells targeted per round"})
    min_samples: int = field(default=20, metadata={"help": "cells with fewer eval problems are never chosen"})
    replay: float = field(default=0.0, metadata={"help": "fraction of the budget spent on untargeted cells (guards against forgetting)"})
    mode: str = field(default="strict", metadata={"help": "grading mode for decisions: strict | flexible"})
    alpha: float = field(default=0.05, metadata={"help": "significance level for gains and losses"})
    # evaluation
    prompt: str | None = field(default=None, metadata={"help": "prompt template (train data uses the same)"})
    limit: int | None = field(default=None, metadata={"help": "problems per task"})
    max_new_tokens: int = field(default=512, metadata={"help": "generation budget per sample"})
    eval_batch_size: int = field(default=16, metadata={"help": "prompts per generation batch"})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data folder"})
    # synthesis
    teacher_backend: str | None = field(default=None, metadata={"help": "hf | openai | vllm (none: verified generators)"})
    teacher_model: str | None = field(default=None, metadata={"help": "teacher model"})
    teacher_base_url: str | None = field(default=None, metadata={"help": "teacher server URL (openai)"})
    decontam_n: int = field(default=30, metadata={"help": "n-gram size of the decontamination filter"})
    seed: int = field(default=0, metadata={"help": "seed for synthesis and training"})
    # training
    train_preset: str = field(default="skywork", metadata={"help": "train preset (train/configs/*.yaml)"})
    deepspeed: str | None = field(default=None, metadata={"help": "zero2 | zero3 | CONFIG.json | none (default: the preset's)"})
    epochs: float | None = field(default=None, metadata={"help": "epochs per round (default: the preset's)"})
    lr: float | None = field(default=None, metadata={"help": "learning rate (default: the preset's)"})
    batch_size: int | None = field(default=None, metadata={"help": "per-device batch (default: the preset's)"})
    global_batch: int | None = field(default=None, metadata={"help": "examples per optimizer step (default: the preset's)"})
    max_length: int | None = field(default=None, metadata={"help": "max tokens per example (default: the preset's)"})

    def __post_init__(self) -> None:
        errs = []
        if not self.model:
            errs.append("--model is required (a checkpoint directory)")
        if not self.tasks:
            errs.append("--tasks is required (e.g. gsm8k,math500)")
        if not self.run_dir:
            errs.append("--run-dir is required")
        if self.rounds < 1:
            errs.append(f"--rounds must be >= 1, found {self.rounds}")
        if self.target is not None and not 0 < self.target <= 1:
            errs.append(f"--target must be an accuracy in (0, 1], found {self.target}")
        if self.budget < 1:
            errs.append(f"--budget must be >= 1, found {self.budget}")
        if not 0 <= self.replay < 1:
            errs.append(f"--replay must be in [0, 1), found {self.replay}")
        if self.mode not in ("strict", "flexible"):
            errs.append(f"--mode must be strict or flexible, found {self.mode!r}")
        if not 0 < self.alpha < 1:
            errs.append(f"--alpha must be in (0, 1), found {self.alpha}")
        if self.teacher_backend is not None and not self.teacher_model:
            errs.append("--teacher-backend needs --teacher-model")
        if errs:
            raise ConfigError("; ".join(errs) + ".")

    def hashed(self) -> dict:
        d = dataclasses.asdict(self)
        for k in UNHASHED:
            d.pop(k, None)
        d["tasks"] = list(self.tasks)
        return d


FIELDS = {f.name: f for f in dataclasses.fields(LoopConfig)}


def config_from_mapping(values: dict[str, Any]) -> LoopConfig:
    """Build a config from a YAML/CLI mapping, reporting every unknown key at once.

    Raises:
        ConfigError: unknown keys (with "did you mean") or invalid values.
    """
    unknown = [k for k in values if k not in FIELDS]
    if unknown:
        raise ConfigError(" ".join(did_you_mean(k, FIELDS, "loop option") for k in unknown))
    vals = dict(values)
    if isinstance(vals.get("tasks"), str):
        vals["tasks"] = tuple(t.strip() for t in vals["tasks"].split(",") if t.strip())
    elif vals.get("tasks") is not None:
        vals["tasks"] = tuple(vals["tasks"])
    try:
        return LoopConfig(**vals)
    except TypeError as e:
        raise ConfigError(f"Bad loop config: {e}.") from None


def load_yaml_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a loop YAML file into a mapping of LoopConfig fields."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Expected a loop config YAML at {p}; it does not exist.")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML ({str(e).splitlines()[0]}). Fix the file.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of option: value, found {type(raw).__name__}.")
    return {k.replace("-", "_"): v for k, v in raw.items()}


# --- state ------------------------------------------------------------------------------------


def _check_state(cfg: LoopConfig) -> None:
    """Create loop.json, or refuse a changed config on resume."""
    path = Path(cfg.run_dir) / STATE
    new = {"config": cfg.hashed(), "config_hash": config_hash(cfg.hashed())}
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("config_hash") != new["config_hash"]:
            oc = old.get("config", {})
            diff = sorted(k for k in set(oc) | set(new["config"]) if oc.get(k) != new["config"].get(k))
            raise ConfigError(
                f"{cfg.run_dir} holds a loop started with different {', '.join(diff)}. "
                "Re-run with the original settings to resume, or use a new --run-dir."
            )
        return
    Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {**new, "created": now_iso()})


def round_dir(cfg: LoopConfig, r: int) -> Path:
    return Path(cfg.run_dir) / f"round_{r:02d}"


def _say(msg: str) -> None:
    print(msg, flush=True)


# --- steps ------------------------------------------------------------------------------------


def step_eval(cfg: LoopConfig, model: str, out: Path) -> dict:
    from harness.eval import EvalConfig, evaluate

    ecfg = EvalConfig(
        model=model, tasks=cfg.tasks, prompt=cfg.prompt, limit=cfg.limit, max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.eval_batch_size, output_dir=str(out), data_dir=cfg.data_dir, seed=cfg.seed,
    )
    return evaluate(ecfg, progress=True)


def step_plan(cfg: LoopConfig, eval_dir: Path, out: Path) -> dict:
    from synth.weak import WeakConfig, cell_stats, weak_from_run

    wcfg = WeakConfig(top=cfg.top, min_samples=cfg.min_samples, target=cfg.target,
                      budget=max(1, round(cfg.budget * (1 - cfg.replay))), mode=cfg.mode)
    plan = weak_from_run(eval_dir, wcfg)
    for c in plan["cells"]:
        c["role"] = "targeted"
    if cfg.replay > 0 and plan["cells"]:
        from harness.records import load_run

        chosen = {(c["task"], c["subject"], c["level"]) for c in plan["cells"]}
        others = [c for c in cell_stats(load_run(eval_dir).samples, cfg.mode)
                  if (c.task, c.subject, c.level) not in chosen and c.n >= cfg.min_samples]
        n_replay = cfg.budget - sum(c["n_new"] for c in plan["cells"])
        for i, c in enumerate(others):
            share = n_replay // len(others) + (1 if i < n_replay % len(others) else 0)
            if share > 0:
                plan["cells"].append({"task": c.task, "subject": c.subject, "level": c.level, "n": c.n,
                                      "acc": round(c.acc, 4), "n_new": share, "role": "replay",
                                      "why": "replay: guards the untargeted cell against forgetting"})
    atomic_write_json(out, plan)
    return plan


def _test_index(cfg: LoopConfig):
    """Decontamination index: every registered test set plus the loop's own evaluation tasks."""
    from harness.data import load_task
    from harness.eval import EvalConfig, resolve_tasks
    from synth.dedup import REPORT_NS, TEST_SETS, build_test_index

    texts, sources = [], []
    for task, split in TEST_SETS:
        try:
            probs = load_task(task, split, data_dir_=cfg.data_dir)
        except HarnessError as e:
            log.warning("decontamination: %s unavailable (%s)", task, e)
            continue
        texts += [p.question for p in probs]
        sources.append(f"{task}/{split} ({len(probs)})")
    for rt in resolve_tasks(EvalConfig(model=cfg.model, tasks=cfg.tasks, data_dir=cfg.data_dir, prompt=cfg.prompt)):
        texts += [p.question for p in rt.problems]
        sources.append(f"{rt.name} (loop eval, {len(rt.problems)})")
    return build_test_index(texts, sorted({*REPORT_NS, cfg.decontam_n}), sources)


def step_synth(cfg: LoopConfig, plan_path: Path, out: Path, r: int, index) -> dict:
    from harness.prompts import default_prompt
    from synth.pipeline import SynthConfig, run_synth

    scfg = SynthConfig(
        teacher_backend=cfg.teacher_backend, teacher_model=cfg.teacher_model, teacher_base_url=cfg.teacher_base_url,
        seed=cfg.seed * 1000 + r, prompt=cfg.prompt or default_prompt(cfg.tasks[0]), decontam_n=cfg.decontam_n,
        data_dir=cfg.data_dir,
    )
    return run_synth(plan_path, out, scfg, test_index=index)


def step_train(cfg: LoopConfig, base: str, data: Path, out: Path) -> dict:
    """Fine-tune in a child process (the same ``python -m train.sft`` the CLI and launchers run)."""
    from train.config import build_config
    from train.launch import child_env
    from train.sft import config_to_argv

    overrides = {"deepspeed": cfg.deepspeed, "epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size,
                 "global_batch": cfg.global_batch, "max_length": cfg.max_length, "seed": cfg.seed, "resume": True}
    tcfg = build_config(model=base, data=[str(data)], output=str(out), preset=cfg.train_preset, overrides=overrides)
    cmd = [sys.executable, "-m", "train.sft", *config_to_argv(tcfg, cfg.train_preset)]
    rc = subprocess.call(cmd, env=child_env())
    if rc != 0:
        raise HarnessError(f"training round model in {out} failed (exit {rc}); its error is above. "
                           "Fix it and re-run the same command to resume.")
    return json.loads((out / "train_summary.json").read_text())


# --- comparison -------------------------------------------------------------------------------


def compare_rounds(prev_eval: Path, new_eval: Path, targeted: set[tuple], mode: str, alpha: float) -> dict:
    """Per-cell paired change from the previous evaluation to the new one (:func:`harness.metrics.paired_by`)."""
    from harness import metrics
    from harness.records import load_run

    diffs = metrics.paired_by(load_run(prev_eval).records, load_run(new_eval).records, "cell", mode)
    rows = []
    for cell, d in diffs.items():
        sig = d.p_value < alpha and (d.ci_low > 0 or d.ci_high < 0)
        rows.append({
            "task": cell[0], "subject": cell[1], "level": cell[2], "targeted": cell in targeted, "n": d.n,
            "before": d.acc_a, "after": d.acc_b, "diff": d.diff, "ci": [d.ci_low, d.ci_high], "p": d.p_value,
            "significant_gain": sig and d.diff > 0, "significant_loss": sig and d.diff < 0,
        })
    return {"cells": rows}


def _overall(eval_dir: Path, mode: str) -> dict[str, float]:
    """Accuracy per task (:func:`harness.metrics.accuracy`, as in results.json)."""
    from harness import metrics
    from harness.records import load_run

    return {t: a.acc for t, a in metrics.accuracy_by(load_run(eval_dir).records, "task", mode).items()}


def _cell_table(rows: list[dict]) -> str:
    from tabulate import tabulate

    out = []
    for r in rows:
        lvl = "" if r["level"] is None else f" L{r['level']}"
        tag = "targeted" if r["targeted"] else ""
        verdict = "GAIN" if r["significant_gain"] else "LOSS" if r["significant_loss"] else "-"
        out.append([f"{r['subject']}{lvl}", tag, r["n"], f"{r['before']:.1%}", f"{r['after']:.1%}",
                    f"{r['diff'] * 100:+.1f} [{r['ci'][0] * 100:+.1f}, {r['ci'][1] * 100:+.1f}]",
                    f"{r['p']:.2g}", verdict])
    return tabulate(out, headers=["cell", "", "n", "before", "after", "change pts [95% CI]", "McNemar p", ""],
                    tablefmt="github")


def _record_scaling(cfg: LoopConfig, r: int, eval_dir: Path, examples: dict[tuple, int]) -> None:
    from harness.records import load_run
    from harness.scaling import SCALING_FILE
    from synth.weak import cell_stats

    path = Path(cfg.run_dir) / SCALING_FILE
    rows, _ = read_jsonl_tolerant(path)
    if any(x.get("round") == r for x in rows):
        return
    new = []
    for c in cell_stats(load_run(eval_dir).samples, cfg.mode):
        new.append({"round": r, "task": c.task, "subject": c.subject, "level": c.level,
                    "examples": examples.get((c.task, c.subject, c.level), 0), "k": round(c.k), "n": c.n})
    append_jsonl(path, new)


def _examples_per_cell(cfg: LoopConfig, upto: int) -> dict[tuple, int]:
    """Cumulative synthetic examples trained on, per cell, through round ``upto``."""
    from harness.io import iter_jsonl

    counts: dict[tuple, int] = {}
    for r in range(1, upto + 1):
        data = round_dir(cfg, r) / "data.jsonl"
        if not data.is_file():
            continue
        for row in iter_jsonl(data):
            cell = (row.get("provenance") or {}).get("cell") or [None, None, None]
            key = (cell[0], cell[1], cell[2])
            counts[key] = counts.get(key, 0) + 1
    return counts


# --- the loop ---------------------------------------------------------------------------------


def run_loop(cfg: LoopConfig, *, on_step: Callable[[str], None] | None = None) -> dict:
    """Run (or resume) the loop; returns the final summary (also in ``loop_summary.json``).

    Args:
        cfg: the loop configuration.
        on_step: called with a step name ("round_01/train", ...) before each step runs (tests use it).

    Raises:
        ConfigError: invalid or changed configuration (checked before any work starts).
    """
    from harness.leaderboard import add_run

    _check_state(cfg)
    lb_dir = Path(cfg.run_dir) / "leaderboard"
    note = on_step or (lambda s: None)

    def done(path: Path) -> bool:
        return path.is_file()

    r0 = round_dir(cfg, 0) / "eval"
    note("round_00/eval")
    _say(f"[loop] round 0: evaluating the base model {cfg.model}")
    step_eval(cfg, cfg.model, r0)
    add_run(r0, lb_dir, label="round 0 (base)", round_="0")
    _record_scaling(cfg, 0, r0, {})
    prev_eval, model = r0, cfg.model
    index = None
    history = [{"round": 0, "overall": _overall(r0, cfg.mode)}]
    stop = f"finished {cfg.rounds} round(s)"
    for r in range(1, cfg.rounds + 1):
        rd = round_dir(cfg, r)
        rd.mkdir(parents=True, exist_ok=True)
        overall = _overall(prev_eval, cfg.mode)
        if cfg.target is not None and all(a >= cfg.target for a in overall.values()):
            stop = f"target {cfg.target:.0%} reached before round {r}"
            break
        plan_path, data, ckpt, ev, summ = rd / "plan.json", rd / "data.jsonl", rd / "ckpt", rd / "eval", rd / "summary.json"
        if not done(plan_path):
            note(f"round_{r:02d}/plan")
            plan = step_plan(cfg, prev_eval, plan_path)
        else:
            plan = json.loads(plan_path.read_text())
        targeted = {(c["task"], c["subject"], c["level"]) for c in plan["cells"] if c.get("role") != "replay"}
        if not targeted:
            stop = f"round {r}: no cell is surely weak (see {plan_path})"
            break
        _say(f"[loop] round {r}: targeting " + ", ".join(f"{s}" + (f" L{lv}" if lv else "") for _, s, lv in sorted(targeted, key=str)))
        if not done(Path(str(data) + ".report.json")):
            note(f"round_{r:02d}/synth")
            if index is None:
                index = _test_index(cfg)
            rep = step_synth(cfg, plan_path, data, r, index)
            _say(f"[loop] round {r}: {rep['counts'].get('written', 0)} synthetic examples -> {data}")
        if not done(ckpt / "train_summary.json"):
            note(f"round_{r:02d}/train")
            _say(f"[loop] round {r}: fine-tuning {model} -> {ckpt}")
            step_train(cfg, model, data, ckpt)
        note(f"round_{r:02d}/eval")
        _say(f"[loop] round {r}: evaluating {ckpt}")
        step_eval(cfg, str(ckpt), ev)
        if not done(summ):
            note(f"round_{r:02d}/record")
            cmp = compare_rounds(prev_eval, ev, targeted, cfg.mode, cfg.alpha)
            summary = {"round": r, "model": str(ckpt), "targeted": [list(t) for t in sorted(targeted, key=str)],
                       "data": str(data), "overall_before": overall, "overall_after": _overall(ev, cfg.mode), **cmp,
                       "date": now_iso()}
            add_run(ev, lb_dir, label=f"round {r}", round_=str(r))
            _record_scaling(cfg, r, ev, _examples_per_cell(cfg, r))
            atomic_write_json(summ, summary)
        summary = json.loads(summ.read_text())
        _say(_cell_table(summary["cells"]))
        losses = [c for c in summary["cells"] if c["significant_loss"] and not c["targeted"]]
        for c in losses:
            _say(f"[loop] WARNING round {r}: untargeted cell {c['subject']} L{c['level']} fell "
                 f"{c['diff'] * 100:+.1f} pts (p={c['p']:.2g})")
        history.append({"round": r, "overall": summary["overall_after"],
                         "gains": sum(c["significant_gain"] for c in summary["cells"] if c["targeted"]),
                         "untargeted_losses": len(losses)})
        prev_eval, model = ev, str(ckpt)
        if cfg.target is not None and all(a >= cfg.target for a in summary["overall_after"].values()):
            stop = f"target {cfg.target:.0%} reached after round {r}"
            break
        if not any(c["significant_gain"] for c in summary["cells"] if c["targeted"]):
            stop = f"round {r} brought no significant gain on its targeted cells (alpha {cfg.alpha})"
            break
    final = {"stopped": stop, "rounds": history, "final_model": model, "run_dir": cfg.run_dir, "date": now_iso()}
    atomic_write_json(Path(cfg.run_dir) / "loop_summary.json", final)
    _say(f"[loop] stopped: {stop}. Final model: {model}")
    return final
