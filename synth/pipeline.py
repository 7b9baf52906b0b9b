"""``harness synth``: plan -> new problems (verified generators, or a teacher on train seeds) -> dedup ->
decontamination -> SFT JSONL in the exact prompt template ``harness eval`` uses, plus a report.

The teacher path streams (up to ``concurrency`` teacher requests in flight, no batch barrier) and is
resumable: each finished unit (seed x method) goes to ``<out>.work.jsonl`` as it finishes (append-only,
fsync'd in small groups, every line tagged with the hash of :func:`teacher_config`). Kill a run and
re-run the same command: finished units are loaded, not sent again, and counts are rebuilt from the
sidecar; dedup, decontamination and the atomic writes then run over everything. A changed teacher config
is refused (use a new ``--out`` or delete the sidecar).

Rows: ``prompt`` (``PromptTemplate.render(question).text``), ``response`` (reasoning +
``format_response``), ``answer``, ``question``, ``prompt_name``, ``prompt_version``, ``task`` (answer
family), ``subject``, ``level``, ``provenance``. The output and ``<out>.report.json`` are written atomically.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from harness.backends import BackendName
from harness.data import Problem
from harness.errors import ConfigError
from harness.io import (
    ResumableLog,
    atomic_write_json,
    config_hash,
    git_commit,
    now_iso,
    read_jsonl_tolerant,
    write_jsonl,
)
from harness.options import check
from harness.prompts import get_prompt
from synth.weak import load_plan

log = logging.getLogger(__name__)


#: SynthConfig fields that never change what synthesis writes (the loop's config hash leaves them out).
UNHASHED = ("teacher_base_url", "batch_size", "concurrency", "request_timeout", "data_dir")


@dataclass(frozen=True)
class SynthConfig:
    """Everything ``harness synth`` takes besides the plan and output; each field is one flag, generated
    by :func:`harness.options.click_options` (the ``help`` metadata is the one documentation)."""

    WHAT: ClassVar[str] = "synth config"

    teacher_backend: BackendName | None = field(default=None, metadata={
        "help": "augment train-split seeds with this teacher (default: verified generators, no teacher)"})
    teacher_model: str | None = field(default=None, metadata={"help": "teacher checkpoint path or served model name"})
    teacher_base_url: str | None = field(default=None, metadata={
        "help": "OpenAI-compatible server URL(s), comma-separated for several servers (openai backend)"})
    methods: tuple[str, ...] = field(default=("metamath", "evol", "xwin"), metadata={
        "help": "augmentation methods", "sep": ","})
    k: int = field(default=4, metadata={"help": "teacher solutions per new problem (majority vote)", "min": 1})
    seed: int = field(default=0, metadata={"help": "sampling and selection seed"})
    prompt: str = field(default="qwen-boxed", metadata={"help": "prompt template of the rows"})
    decontam_n: int = field(default=30, metadata={"help": "word n-gram length of the test-set filter", "min": 1})
    decontam: bool = field(default=True, metadata={
        "help": "decontaminate against the test sets (--no-decontam only for offline experiments)"})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data folder"})
    max_new_tokens: int = field(default=512, metadata={"help": "teacher generation budget per solution", "min": 1})
    batch_size: int = field(default=32, metadata={  # not part of the resume key
        "help": "hf teacher: prompts per forward pass", "min": 1})
    concurrency: int | None = field(default=None, metadata={  # not hashed
        "help": "teacher requests in flight (default: the backend's, e.g. 256 for openai); a new one starts as "
                "soon as one finishes", "min": 1})
    request_timeout: float = field(default=600.0, metadata={  # not part of the resume key
        "help": "openai teacher: seconds one request may take", "gt": 0})
    oversample: float = field(default=1.5, metadata={
        "help": "generator path: draw this many times the planned count, to fill after dedup", "min": 1})

    def __post_init__(self) -> None:
        check(self, _synth_cross_checks)  # types and ranges from the fields, all problems at once

    @property
    def window(self) -> int:
        """Teacher requests in flight: ``concurrency``, else the teacher backend's default."""
        from harness.backends import default_window

        return default_window(self.teacher_backend or "openai", self.concurrency)


def _synth_cross_checks(cfg: SynthConfig) -> list[str]:
    from synth.augment import METHODS

    errs = []
    bad = [m for m in cfg.methods if m not in METHODS]
    if bad or not cfg.methods:
        errs.append(f"methods: expected some of {', '.join(METHODS)}, found {', '.join(cfg.methods) or 'none'}")
    if cfg.teacher_backend is not None and not cfg.teacher_model:
        errs.append("teacher_model: required with teacher_backend, found nothing (--teacher-model: the checkpoint "
                    "path or served model name)")
    return errs


def generator_items(cell: dict, n: int, seed: int) -> tuple[list[dict], str | None]:
    """Items from the verified generators for a cell; ``(items, reason-if-none)``.

    The topics follow the cell's seed source (:attr:`harness.data.Task.seeds`): its own MATH subject,
    GSM8K's word problems, or every MATH subject at the source's level for evaluation-only sets; a task
    with no source uses the cell's subject as a topic name (benchmarks made by the generators).
    """
    from harness.data import MATH_SUBJECTS, TASKS
    from synth.generators import SUBJECT_TOPICS, generate, topics_for
    from synth.seeds import no_source_reason, seed_source

    src = seed_source(str(cell["task"]))
    if src is not None and src.task == "gsm8k":
        topics = topics_for("GSM8K")
    elif src is not None and not src.same_subject:
        topics = [t for subj, ts in SUBJECT_TOPICS.items() if subj in MATH_SUBJECTS for t in ts]
    else:
        topics = topics_for(cell.get("subject"))
    if not topics:
        if src is None and cell["task"] in TASKS:
            return [], no_source_reason(str(cell["task"]))
        return [], f"no generator for subject {cell.get('subject')!r}"
    level = cell.get("level") or (src.min_level if src is not None else None) or 2
    per = math.ceil(n / len(topics))
    per_topic = [generate(t, per, seed=seed, level=int(level)) for t in topics]
    items = []
    for group in zip(*per_topic):  # interleave topics so any prefix mixes them
        for it in group:
            t = it["generator"]
            it["reasoning"] = it["solution"]
            it["provenance"] = {"method": "generator", "generator": t, "generator_version": it["generator_version"],
                                "seed_id": it["id"], "cell": [cell["task"], cell.get("subject"), cell.get("level")],
                                "stage": "hard" if int(level) >= 4 else "normal", "agreement": 1.0,
                                "meta": it["meta"]}
            items.append(it)
    return items, None


SIDECAR_VERSION = 3  # 2: sampling seeded per run (was per batch); 3: truncated/echoed/solution-like problems rejected, distinct solutions vote
TEMPERATURE = 0.7


def sidecar_path(out: str | os.PathLike) -> Path:
    """Where the teacher path keeps its finished units: ``<out>.work.jsonl``."""
    return Path(str(out) + ".work.jsonl")


def teacher_config(cfg: SynthConfig) -> dict:
    """Everything that changes what a teacher unit produces; a sidecar made under another one is refused.

    Not included: the server URLs, batch size, concurrency, timeout and data folder (they do not change a
    unit's result).
    """
    from synth.augment import TEMPLATES

    tmpl = get_prompt(cfg.prompt)
    return {"sidecar_version": SIDECAR_VERSION, "backend": cfg.teacher_backend, "model": cfg.teacher_model,
            "methods": list(cfg.methods), "k": cfg.k, "seed": cfg.seed, "prompt": tmpl.ident(),
            "templates": {t.name: t.version for t in TEMPLATES.values() if t.method in cfg.methods},
            "temperature": TEMPERATURE, "max_new_tokens": cfg.max_new_tokens}


def load_sidecar(path: Path, tcfg: dict) -> tuple[dict[str, dict], int]:
    """Finished units of an earlier run with the same teacher config: ``(key -> record, bad lines)``.

    The sidecar's header line is its manifest; every unit line carries the config hash too. Whether the
    work may be continued is the one run-directory policy (:func:`harness.rundir.resume_policy`).

    Raises:
        ConfigError: the sidecar was made with a different teacher config (every changed field named).
    """
    from harness.rundir import hashed, resume_policy

    rows, n_bad = read_jsonl_tolerant(path)
    new = hashed(tcfg)
    header = next((r for r in rows if r.get("header")), None)
    fix = f"use a new --out, or delete {path} to start over"
    for h in dict.fromkeys(r.get("config_hash") for r in rows):
        made = header if header is not None and header.get("config_hash") == h else \
            next(r for r in rows if r.get("config_hash") == h)
        old = made.get("config") or (header or {}).get("config") or {}
        resume_policy(path, {"config": old, "config_hash": h}, new, has_work=True, fix=fix)
    done: dict[str, dict] = {}
    for r in rows:
        if not r.get("header"):
            done.setdefault(r["key"], r)  # first record per unit wins: nothing counted twice
    if n_bad:
        log.warning("%s: %d unreadable line(s) skipped (their units are redone)", path, n_bad)
    return done, n_bad


def teacher_items(cells: list[dict], cfg: SynthConfig, counts: Counter, *, out: str | os.PathLike,
                  progress: bool = False) -> tuple[list[dict], dict]:
    """Teacher augmentation of the plan's cells, resumable through ``<out>.work.jsonl``.

    The units stream through the teacher with up to ``cfg.window`` requests in flight (no batch barrier,
    :func:`synth.augment.run_units`); each finished unit (seed x method: the teacher's new problem, its K
    solutions, the parsed result and the outcome) is appended to the sidecar as it finishes (grouped
    fsync'd writes through :class:`harness.io.ResumableLog`); a re-run loads finished units, sends only the
    rest and rebuilds the counts from the sidecar, so nothing is redone or counted twice.

    Args:
        cells: plan cells with ``n_new > 0``.
        cfg: options.
        counts: updated with ``seeds``, ``skipped_no_number`` and the unit outcomes.
        out: the SFT output path (the sidecar sits next to it).
        progress: show a tqdm bar.

    Returns:
        ``(items, resume)``: accepted items in unit order; ``resume`` says what was loaded and what was run.

    Raises:
        ConfigError: bad teacher options, a sidecar of another config, or another run writing it.
    """
    from harness.backends import make_backend, parse_base_urls
    from harness.progress import StreamProgress
    from synth.augment import counts_from_records, plan_units, run_units
    from synth.seeds import select_seeds

    seeds: list[tuple[Problem, dict, str]] = []
    cache: dict[str, list[Problem]] = {}
    for cell in cells:
        n_seeds = max(1, math.ceil(cell["n_new"] / len(cfg.methods)))
        chosen = select_seeds(cell, n_seeds, data_dir=cfg.data_dir, seed=cfg.seed, cache=cache)
        counts["seeds"] += len(chosen)
        seeds += [(p, cell, "normal") for p in chosen]
        seeds += [(p, cell, "hard") for p in chosen if (p.level or 0) >= 4]  # stage 2 from level 4-5 seeds
    units, c = plan_units(seeds, cfg.methods, cfg.seed)
    counts.update(c)
    tcfg = teacher_config(cfg)
    chash = config_hash(tcfg)
    side = sidecar_path(out)
    run = 0
    with ResumableLog(side, what="`harness synth`", fix="use a new --out") as sidecar:
        done, n_bad = load_sidecar(side, tcfg)
        if not side.exists() or side.stat().st_size == 0:
            sidecar.append([{"header": True, "config_hash": chash, "config": tcfg, "date": now_iso()}])
        todo = [u for u in units if u.key not in done]
        loaded = len(units) - len(todo)
        log.info("%s: %d of %d teacher units done, %d to run", side, loaded, len(units), len(todo))
        if todo:
            assert cfg.teacher_model is not None  # SynthConfig's cross-check: required with a teacher backend
            backend = make_backend(
                str(cfg.teacher_backend), model=cfg.teacher_model, window=cfg.window, request_timeout=cfg.request_timeout,
                base_url=parse_base_urls(cfg.teacher_base_url or "http://localhost:8000/v1"),
                batch_size=cfg.batch_size)
            try:
                with StreamProgress(total=len(units), initial=loaded, unit="unit", desc="synth teacher",
                                    enabled=progress) as bar:
                    for rec in run_units(todo, backend, k=cfg.k, seed=cfg.seed, temperature=TEMPERATURE,
                                         max_new_tokens=cfg.max_new_tokens, solver_prompt=cfg.prompt,
                                         window=cfg.window, progress=bar):
                        rec["config_hash"] = chash
                        sidecar.add([rec])  # grouped fsync'd appends: a kill loses at most the last moments
                        done[rec["key"]] = rec
                        run += 1
                        bar.finished(1, requests=0)
            finally:
                backend.close()
    cut = sidecar.torn_bytes_cut
    recs = [done[u.key] for u in units]
    counts.update(counts_from_records(recs))
    items = [r["item"] for r in recs if r["item"]]
    resume = {"sidecar": str(side), "units": len(units), "units_loaded": loaded, "units_run": run,
              "bad_lines": n_bad, "torn_bytes_cut": cut}
    return items, resume


def run_synth(plan_path: str | os.PathLike, out: str | os.PathLike, cfg: SynthConfig = SynthConfig(),
              *, test_index=None, progress: bool = False) -> dict:
    """Run the whole synthesis for a plan; write ``out`` and ``<out>.report.json`` atomically.

    Args:
        plan_path: the plan from ``harness weak``.
        out: the SFT JSONL to write.
        cfg: options.
        test_index: a prebuilt :class:`synth.dedup.TestIndex` (default: every registered test set and the
            plan's custom tasks, :func:`synth.clean.build_index`).
        progress: show a tqdm bar over the teacher units.

    Returns:
        The report dict (``counts`` per step, ``decontam``, ``report_path``; teacher path: ``resume``).

    Raises:
        ConfigError: an empty plan, unknown prompt or teacher options.
        DataError: the plan, train seeds or test sets cannot be read.
    """
    from synth.clean import CleanConfig, build_index
    from synth.dedup import decontaminate, dedup

    plan = load_plan(plan_path)
    tmpl = get_prompt(cfg.prompt)
    cells = [c for c in plan["cells"] if c.get("n_new", 0) > 0]
    if not cells:
        raise ConfigError(f"The plan {plan_path} chooses no cells; nothing to make. "
                          "Re-run `harness weak` with --target ACC or fewer --min-samples.")
    counts: Counter = Counter()
    skipped_cells = []
    resume = None
    if cfg.teacher_backend:
        from synth.seeds import no_source_reason, seed_source

        skipped_cells += [{**c, "why": no_source_reason(c["task"])}
                          for c in cells if seed_source(c["task"]) is None]
        cells = [c for c in cells if seed_source(c["task"]) is not None]
        items, resume = teacher_items(cells, cfg, counts, out=out, progress=progress) if cells else ([], None)
        quota = None
    else:
        items, quota = [], {}
        for i, cell in enumerate(cells):
            its, why = generator_items(cell, math.ceil(cell["n_new"] * cfg.oversample), cfg.seed + 1000 * i)
            if why:
                skipped_cells.append({**cell, "why": why})
            items += its
            quota[i] = cell["n_new"]
            for it in its:
                it["_cell"] = i
    counts["generated"] = len(items)
    d = dedup([it["question"] for it in items])
    items = [items[i] for i in d.keep]
    counts["removed_exact_dup"], counts["removed_near_dup"] = d.exact, d.near
    decon = {"n": cfg.decontam_n, "removed": 0, "skipped": not cfg.decontam}
    if cfg.decontam:
        # every registered task's test set, plus the plan's own custom tasks (from its source run)
        index = test_index or build_index(CleanConfig(decontam_n=cfg.decontam_n), cfg.data_dir, plan=plan)
        assert index is not None  # build_index gives None only when its config turns decontam off
        keep, decon = decontaminate([it["question"] for it in items], index, cfg.decontam_n)
        items = [items[i] for i in keep]
    counts["removed_contaminated"] = decon["removed"]
    if quota is not None:  # generators: keep n_new per cell after hygiene
        left = dict(quota)
        kept = []
        for it in items:
            if left[it["_cell"]] > 0:
                left[it["_cell"]] -= 1
                kept.append(it)
        counts["removed_over_quota"] = len(items) - len(kept)
        items = kept
    rows = []
    for it in items:
        rows.append({
            "prompt": tmpl.render(it["question"], 0).text,
            "response": tmpl.format_response(it["reasoning"], it["answer"]),
            "answer": it["answer"], "question": it["question"], "task": it["task"],
            "subject": it.get("subject"), "level": it.get("level"),
            "prompt_name": tmpl.name, "prompt_version": tmpl.version, "provenance": it["provenance"],
        })
    counts["written"] = write_jsonl(out, rows)
    report = {
        "plan": str(plan_path), "out": str(out), "mode": "teacher" if cfg.teacher_backend else "generators",
        "teacher": {"backend": cfg.teacher_backend, "model": cfg.teacher_model, "methods": list(cfg.methods),
                    "k": cfg.k} if cfg.teacher_backend else None, "resume": resume,
        "prompt": tmpl.ident(), "seed": cfg.seed, "counts": dict(counts), "decontam": decon,
        "skipped_cells": skipped_cells, "commit": git_commit(), "date": now_iso(),
        "report_path": str(Path(str(out) + ".report.json")),
    }
    atomic_write_json(Path(str(out) + ".report.json"), report)
    return report


def report_warnings(report: dict) -> list[str]:
    """One line per kind of teacher output that was rejected or discounted, with what to do about it."""
    c = report["counts"]
    said = {
        "bad_truncated": "teacher replies were cut at max_tokens and rejected (a cut problem is not a problem): "
                         "raise --max-new-tokens",
        "solutions_truncated": "teacher solutions were cut at max_tokens and did not vote: raise --max-new-tokens",
        "bad_not_a_problem": "teacher 'problems' state a final answer (a solution, not a problem) and were rejected",
        "bad_echo": "teacher problems repeat one of their own solutions word for word and were rejected",
        "solutions_repeated": "teacher solutions repeat an earlier solution of the same problem word for word "
                              "(counted as one vote: identical replies verify nothing)",
    }
    return [f"{c[k]} {text}" for k, text in said.items() if c.get(k)]


def report_table(report: dict) -> str:
    """Counts per step, and what each decontamination n would remove, as tables."""
    from tabulate import tabulate

    t = tabulate(sorted(report["counts"].items()), headers=["step", "count"])
    by_n = report["decontam"].get("removed_by_n")
    if by_n:
        t += "\n\n" + tabulate([[n, c, "used" if int(n) == report["decontam"]["n"] else ""] for n, c in by_n.items()],
                               headers=["decontam n", "would remove", ""])
    if report.get("skipped_cells"):
        t += "\n\n" + tabulate([[c["task"], c.get("subject"), c.get("level"), c["n_new"], c["why"]]
                                 for c in report["skipped_cells"]],
                                headers=["skipped cell: task", "subject", "level", "n_new", "why"])
    missing = report["decontam"].get("missing")
    if missing:
        t += "\n\nNot decontaminated against (data not found): " + ", ".join(m["name"] for m in missing)
    return t
