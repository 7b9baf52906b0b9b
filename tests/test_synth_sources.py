"""Weak cells of evaluation-only tasks get training problems from a stand-in source (synth/seeds.py
SEED_SOURCES), and a cell with no source is reported, never silently left empty.

Real data (``$HARNESS_DATA_DIR``), the real `harness synth` command (click's runner).
Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_synth_sources.py``.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from harness.cli import main
from harness.io import read_jsonl
from synth.seeds import select_seeds


def _cell(task, subject, n_new):
    return {"task": task, "subject": subject, "level": None, "n_new": n_new}


def test_competition_cells_seed_from_hard_math_train(data_dir):
    seeds = select_seeds(_cell("aime24", "AIME 2024 I", 0), 12, data_dir=data_dir)
    assert len(seeds) == 12
    assert all(p.task == "math" and p.id.startswith("train") and p.level == 5 for p in seeds)
    assert len({p.subject for p in seeds}) > 1  # the whole MATH train split at level 5, not one subject
    svamp = select_seeds(_cell("svamp", "Subtraction", 0), 5, data_dir=data_dir)
    assert len(svamp) == 5 and all(p.task == "gsm8k" for p in svamp)
    assert select_seeds(_cell("minerva_math", "Physics (8.01)", 0), 5, data_dir=data_dir) == []


def test_synth_fills_eval_only_cells_and_reports_the_one_without_a_source(tmp_path, data_dir):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"cells": [_cell("svamp", "Subtraction", 20), _cell("aime24", "AIME 2024 I", 20),
                                          _cell("minerva_math", "Solid State Chemistry (3.091)", 20)]}))
    out = tmp_path / "sft.jsonl"
    res = CliRunner().invoke(main, ["synth", "--plan", str(plan), "--out", str(out), "--data-dir", str(data_dir),
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    rows = read_jsonl(out)
    by_task: dict[str, list[dict]] = {}
    for r in rows:
        by_task.setdefault(r["provenance"]["cell"][0], []).append(r)
    assert len(by_task["svamp"]) == 20 and all(r["task"] == "gsm8k" for r in by_task["svamp"])
    assert len(by_task["aime24"]) == 20 and all(r["level"] == 5 for r in by_task["aime24"])
    assert "minerva_math" not in by_task
    report = json.loads((tmp_path / "sft.jsonl.report.json").read_text())
    [skipped] = report["skipped_cells"]
    assert skipped["task"] == "minerva_math" and "no stand-in source" in skipped["why"]
    assert "skipped cell" in res.output and "minerva_math" in res.output
