"""``harness synth``: plan -> new problems (verified generators, or a teacher on train seeds) -> dedup ->
decontamination -> SFT JSONL in the exact prompt template ``harness eval`` uses, plus a report.

Rows: ``prompt`` (``PromptTemplate.render(question).text``), ``response`` (reasoning +
``format_response``), ``answer``, ``question``, ``prompt_name``, ``prompt_version``, ``task`` (answer
family), ``subject``, ``level``, ``provenance``. The output and ``<out>.report.json`` are written atomically.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError
from harness.io import atomic_write_json, git_commit, now_iso, write_jsonl
from harness.prompts import get_prompt
from synth.weak import load_plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthConfig:
    teacher_backend: str | None = None
    teacher_model: str | None = None
    teacher_base_url: str | None = None
    methods: tuple[str, ...] = ("metamath", "evol", "xwin")
    k: int = 4
    seed: int = 0
    prompt: str = "qwen-boxed"
    decontam_n: int = 30
    decontam: bool = True
    data_dir: str | None = None
    max_new_tokens: int = 512
    oversample: float = 1.5  # generator path: draw this many times n_new, to fill after dedup


def generator_items(cell: dict, n: int, seed: int) -> tuple[list[dict], str | None]:
    """Items from the verified generators of a cell's subject; ``(items, reason-if-none)``."""
    from synth.generators import generate, topics_for

    topics = topics_for("GSM8K" if cell["task"] == "gsm8k" else cell.get("subject"))
    if not topics:
        return [], f"no generator for subject {cell.get('subject')!r}"
    level = cell.get("level") or 2
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


def teacher_items(cells: list[dict], cfg: SynthConfig, counts: Counter) -> list[dict]:
    from harness.backends import get_backend
    from synth.augment import METHODS, augment
    from synth.seeds import select_seeds

    bad = [m for m in cfg.methods if m not in METHODS]
    if bad or not cfg.teacher_model:
        raise ConfigError(f"Expected --methods from {','.join(METHODS)} and a --teacher-model; "
                          f"found methods {','.join(cfg.methods)}, model {cfg.teacher_model!r}.")
    kw: dict = {"model": cfg.teacher_model}
    if cfg.teacher_backend == "openai":
        kw["base_url"] = cfg.teacher_base_url or "http://localhost:8000/v1"
    seeds = []
    for cell in cells:
        n_seeds = max(1, math.ceil(cell["n_new"] / len(cfg.methods)))
        chosen = select_seeds(cell, n_seeds, data_dir=cfg.data_dir, seed=cfg.seed)
        counts["seeds"] += len(chosen)
        seeds += [(p, cell, "normal") for p in chosen]
        seeds += [(p, cell, "hard") for p in chosen if (p.level or 0) >= 4]  # stage 2 from level 4-5 seeds
    backend = get_backend(cfg.teacher_backend, **kw)
    try:
        items, c = augment(seeds, backend, methods=cfg.methods, k=cfg.k, seed=cfg.seed,
                           max_new_tokens=cfg.max_new_tokens, solver_prompt=cfg.prompt)
    finally:
        backend.close()
    counts.update(c)
    return items


def run_synth(plan_path: str | os.PathLike, out: str | os.PathLike, cfg: SynthConfig = SynthConfig(),
              *, test_index=None) -> dict:
    """Run the whole synthesis for a plan; write ``out`` and ``<out>.report.json`` atomically.

    Args:
        plan_path: the plan from ``harness weak``.
        out: the SFT JSONL to write.
        cfg: options.
        test_index: a prebuilt :class:`synth.dedup.TestIndex` (default: every registered test set).

    Returns:
        The report dict (``counts`` per step, ``decontam``, ``report_path``).

    Raises:
        ConfigError: an empty plan, unknown prompt or teacher options.
        DataError: the plan, train seeds or test sets cannot be read.
    """
    from synth.dedup import REPORT_NS, decontaminate, dedup, registered_test_index

    plan = load_plan(plan_path)
    tmpl = get_prompt(cfg.prompt)
    cells = [c for c in plan["cells"] if c.get("n_new", 0) > 0]
    if not cells:
        raise ConfigError(f"The plan {plan_path} chooses no cells; nothing to make. "
                          "Re-run `harness weak` with --target ACC or fewer --min-samples.")
    counts: Counter = Counter()
    skipped_cells = []
    if cfg.teacher_backend:
        items = teacher_items(cells, cfg, counts)
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
        index = test_index or registered_test_index(cfg.data_dir, ns=sorted({*REPORT_NS, cfg.decontam_n}))
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
                    "k": cfg.k} if cfg.teacher_backend else None,
        "prompt": tmpl.ident(), "seed": cfg.seed, "counts": dict(counts), "decontam": decon,
        "skipped_cells": skipped_cells, "commit": git_commit(), "date": now_iso(),
        "report_path": str(Path(str(out) + ".report.json")),
    }
    atomic_write_json(report["report_path"], report)
    return report


def report_table(report: dict) -> str:
    """Counts per step, and what each decontamination n would remove, as tables."""
    from tabulate import tabulate

    t = tabulate(sorted(report["counts"].items()), headers=["step", "count"])
    by_n = report["decontam"].get("removed_by_n")
    if by_n:
        t += "\n\n" + tabulate([[n, c, "used" if int(n) == report["decontam"]["n"] else ""] for n, c in by_n.items()],
                               headers=["decontam n", "would remove", ""])
    return t
