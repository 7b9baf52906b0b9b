"""Weak-topic selection (synth/weak.py, `harness weak`): ranking on constructed run directories with
known accuracies (written per harness/records.py), the too-few-samples rule, budget allocation, the
CLI table and plan file, bad input, and one real tiny-model run when harness.eval is available.

Run: ``python3 -m pytest -q tests/test_weak.py``
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import DataError
from harness.io import write_jsonl
from harness.records import SAMPLES, write_manifest
from synth.weak import WeakConfig, load_plan, select_weak, weak_from_run


def make_run(path, cells: dict[tuple, tuple[int, int]]):
    """A run dir where cell (task, subject, level) has k correct out of n problems."""
    rows = []
    for (task, subject, level), (k, n) in cells.items():
        for i in range(n):
            ok = i < k
            rows.append({"task": task, "id": f"{subject}-{level}-{i}", "sample_idx": 0, "subject": subject,
                         "level": level, "gold": "1", "prompt": "q", "output": "o", "correct_strict": ok,
                         "correct_flexible": ok, "status_strict": "correct" if ok else "wrong"})
    path.mkdir(parents=True, exist_ok=True)
    write_manifest(path, {"model": "constructed", "tasks": {t: "1.0" for t, _, _ in cells}})
    write_jsonl(path / SAMPLES, rows)
    return path


CELLS = {
    ("math", "Algebra", 1): (90, 100),      # strong
    ("math", "Algebra", 5): (10, 100),      # weak, large
    ("math", "Geometry", 5): (5, 40),       # weak, smaller share
    ("math", "Precalculus", 3): (45, 60),   # near the mean: not surely weak
    ("math", "Number Theory", 2): (0, 5),   # too few samples
    ("gsm8k", "GSM8K", None): (30, 100),    # its own task: overall 0.30
}


def test_ranking_on_constructed_run(tmp_path):
    run = make_run(tmp_path / "run", CELLS)
    plan = weak_from_run(run, WeakConfig(top=5, min_samples=20, budget=100), tmp_path / "plan.json")
    chosen = [(c["task"], c["subject"], c["level"]) for c in plan["cells"]]
    # overall math acc = (90+10+5+45+0)/305 = 0.508; Algebra L5 has the largest share x gap
    assert chosen == [("math", "Algebra", 5), ("math", "Geometry", 5)]
    a5 = plan["cells"][0]
    assert a5["acc"] == 0.1 and a5["n"] == 100 and a5["ci"][1] < plan["reference"]["math"]
    assert a5["gap"] == pytest.approx(150 / 305 - 0.1, abs=1e-3)
    assert sum(c["n_new"] for c in plan["cells"]) == 100 and a5["n_new"] > plan["cells"][1]["n_new"]
    why = {(s["subject"], s["level"]): s["why"] for s in plan["skipped"]}
    assert why[("Number Theory", 2)].startswith("too few samples")
    assert why[("Precalculus", 3)].startswith("at or above") or "not surely weak" in why[("Precalculus", 3)]
    assert "at or above" in why[("Algebra", 1)]
    assert "at or above" in why[("GSM8K", None)]  # the only gsm8k cell equals its own overall
    assert load_plan(tmp_path / "plan.json")["cells"] == plan["cells"]


def test_target_mode_and_too_few_never_chosen(tmp_path):
    run = make_run(tmp_path / "run", CELLS)
    plan = weak_from_run(run, WeakConfig(top=10, min_samples=20, target=0.9, budget=50))
    assert plan["mode"] == "target" and plan["target"] == 0.9
    chosen = {(c["subject"], c["level"]) for c in plan["cells"]}
    assert ("GSM8K", None) in chosen and ("Precalculus", 3) in chosen
    assert ("Number Theory", 2) not in chosen and ("Algebra", 1) not in chosen
    assert sum(c["n_new"] for c in plan["cells"]) == 50


def test_multiple_samples_per_problem_use_problem_means():
    rows = [{"task": "math", "id": str(i), "sample_idx": j, "subject": "Algebra", "level": 1,
             "correct_strict": j == 0} for i in range(30) for j in range(2)]
    rows += [{"task": "math", "id": f"g{i}", "sample_idx": 0, "subject": "Geometry", "level": 1,
              "correct_strict": True} for i in range(30)]
    plan = select_weak(rows, WeakConfig(min_samples=10))
    assert plan["cells"][0]["subject"] == "Algebra" and plan["cells"][0]["n"] == 30
    assert plan["cells"][0]["acc"] == 0.5


def test_cli_prints_table_and_writes_plan(tmp_path):
    run = make_run(tmp_path / "run", CELLS)
    res = CliRunner().invoke(main, ["weak", str(run), "--top", "1", "--out", str(tmp_path / "p.json")])
    assert res.exit_code == 0, res.output
    assert "Algebra" in res.output and "too few samples" in res.output and "1 cell(s) chosen" in res.output
    assert len(json.loads((tmp_path / "p.json").read_text())["cells"]) == 1


def test_bad_inputs(tmp_path):
    res = CliRunner().invoke(main, ["weak", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "Error: Expected a run directory" in res.output
    run = make_run(tmp_path / "run", CELLS)
    res = CliRunner().invoke(main, ["weak", str(run), "--target", "3"])
    assert res.exit_code == 1 and "target: expected a number in [0, 1] or null, found 3.0" in res.output
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_plan(tmp_path / "bad.json")
    with pytest.raises(DataError, match="correct_strict"):
        select_weak([{"task": "math", "id": "1"}])


@pytest.mark.slow
def test_real_tiny_model_run(tmp_path, tiny_checkpoint, data_dir):
    """A real `harness eval` run of the tiny random model; it scores ~0, so use a target."""
    ev = pytest.importorskip("harness.cli.eval")
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["eval", "--model", str(tiny_checkpoint), "--tasks", "math500", "--limit", "30",
                                    "--max-new-tokens", "4", "--output-dir", str(out), "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    plan = weak_from_run(out, WeakConfig(top=3, min_samples=3, target=0.5, budget=30))
    n_cells = len({(s["subject"], s["level"]) for s in json.loads("[" + ",".join(
        (out / SAMPLES).read_text().splitlines()) + "]")})
    assert len(plan["cells"]) + len(plan["skipped"]) == n_cells
    assert all(c["acc"] <= 0.5 for c in plan["cells"])
    assert ev is not None
