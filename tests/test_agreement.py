"""One run, one set of figures: every per-cell and per-task accuracy of a run is identical in
``results.json`` (written by ``harness merge``), the leaderboard record (``harness leaderboard add``),
the ``harness weak`` plan, ``harness check`` (against the run directory and against the leaderboard
entry) and the closed loop's round comparison, because all of them compute it with ``harness.metrics``.

The run is two ``--shard`` halves of constructed samples (samples.jsonl schema, fixed seed) over four
kinds of task: subject x level (MATH-like), one subject without levels (GSM8K's "GSM8K"), several
subjects without levels (OlympiadBench subfields), and neither. It runs with one and with three
samples per problem (Wilson and clustered intervals).

Run: ``python3 -m pytest -q tests/test_agreement.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.check import check
from harness.cli import main
from harness.leaderboard import read_records
from harness.loop import _overall, compare_rounds

TASKS = {  # task -> [(subject, level, n_problems)]
    "mathlike": [(s, lvl, 5) for s in ("Algebra", "Geometry", "Number Theory") for lvl in (1, 3, 5)],
    "wordlike": [("GSM8K", None, 24)],
    "olylike": [("Algebra", None, 9), ("Combinatorics", None, 11)],
    "plain": [(None, None, 13)],
}


def write_shards(root: Path, n: int) -> list[Path]:
    rng = random.Random(n)
    config = {"tasks": {t: "1.0" for t in TASKS}, "answer_tasks": {t: "math" for t in TASKS},
              "sampling": {"n": n}, "model": "m", "split": "test", "shard": None}
    shards = []
    for i in range(2):
        d = root / f"shard{i}"
        d.mkdir(parents=True)
        cfg = {**config, "shard": [i, 2]}
        (d / "manifest.json").write_text(json.dumps({
            "model": "m", "backend": "hf", "tasks": config["tasks"], "answer_tasks": config["answer_tasks"],
            "split": "test", "prompt": {"name": "qwen-boxed", "version": "1"}, "n_shot": 0,
            "sampling": {"n": n}, "limit": None, "shard": [i, 2], "commit": "abc", "date": "2026-01-01",
            "config": cfg, "config_hash": f"shard{i}"}))
        shards.append(d)
    rows: list[list[dict]] = [[], []]
    for task, cells in TASKS.items():
        pid = 0
        for subject, level, count in cells:
            p_right = rng.random()
            for _ in range(count):
                for k in range(n):
                    ok = rng.random() < p_right
                    status = "correct" if ok else rng.choice(["wrong", "wrong", "no_answer", "error"])
                    ans = "1" if ok else (None if status == "no_answer" else str(rng.randint(2, 3)))
                    rows[pid % 2].append({
                        "task": task, "id": str(pid), "sample_idx": k, "subject": subject, "level": level,
                        "gold": "1", "prompt": "q", "output": "o", "extracted_strict": ans, "extracted_flexible": ans,
                        "correct_strict": ok, "correct_flexible": ok or rng.random() < 0.2,
                        "status_strict": status, "status_flexible": status, "prompt_tokens": 3, "tokens": 5,
                        "finish_reason": "stop", "truncated": False})
                pid += 1
    for d, r in zip(shards, rows):
        (d / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in r))
    return shards


def results_cell(block: dict, subject, level) -> dict:
    """The results.json / leaderboard figure of a cell: subject x level, else the subject, else the task."""
    if subject is not None and level is not None:
        return block["by_subject_level"][subject][str(level)]
    if subject is not None:
        return block["by_subject"][subject]
    return block


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("mode", ["strict", "flexible"])
def test_every_reader_reports_the_same_figures(tmp_path, n, mode):
    runner = CliRunner()
    run = tmp_path / "run"
    res = runner.invoke(main, ["merge", str(run), *map(str, write_shards(tmp_path, n))])
    assert res.exit_code == 0, res.output
    results = json.loads((run / "results.json").read_text())["tasks"]

    lb = tmp_path / "lb"
    res = runner.invoke(main, ["leaderboard", "add", str(run), "--leaderboard", str(lb), "--label", "base"])
    assert res.exit_code == 0, res.output
    records = {r["task"]: r for r in read_records(lb).rows}

    res = runner.invoke(main, ["weak", str(run), "--min-samples", "1", "--top", "100", "--mode", mode,
                               "--target", "1.0", "--out", str(tmp_path / "plan.json")])
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "plan.json").read_text())
    weak = {(c["task"], c["subject"], c["level"]): c for c in plan["cells"] + plan["skipped"]}

    by_dir = check(str(run), str(run), mode=mode, by="cell")
    by_entry = check("base@mathlike", str(run), task="mathlike", mode=mode, by="cell", lb_dir=lb)
    checked = {r.key: r.diff for t in by_dir.tasks + by_entry.tasks for r in t.groups}
    overall = {t.task: t.overall for t in by_dir.tasks}
    loop_cells = {(c["task"], c["subject"], c["level"]): c for c in compare_rounds(run, run, set(), mode, 0.05)["cells"]}
    loop_overall = _overall(run, mode)

    cells = [(t, s, lvl) for t, cs in TASKS.items() for s, lvl, _ in cs]
    assert set(weak) == set(cells) and set(checked) == set(cells)
    for cell in cells:
        task, subject, level = cell
        want = results_cell(results[task], subject, level)[mode]
        assert results_cell(records[task], subject, level)[mode] == want, cell
        assert (weak[cell]["acc"], weak[cell]["ci"], weak[cell]["n"]) == (want["acc"], want["ci"], want["n"]), cell
        d = checked[cell]
        assert (d.acc_a, d.acc_b, d.n) == (want["acc"], want["acc"], want["n"]), cell
        c = loop_cells[cell]  # the closed loop's per-round comparison
        assert (c["before"], c["after"], c["n"]) == (want["acc"], want["acc"], want["n"]), cell
    for task in TASKS:
        want = results[task][mode]
        assert records[task][mode] == want and plan["reference"][task] == want["acc"]
        assert (overall[task].acc_b, overall[task].n) == (want["acc"], want["n"])
        assert loop_overall[task] == want["acc"]
        assert records[task]["statuses"] == results[task]["statuses"]
        assert want["n_samples"] == n * want["n"]
    # The figures are not trivially equal: the tasks and cells differ, and some samples are errors.
    assert len({results[t][mode]["acc"] for t in TASKS}) == len(TASKS)
    assert sum(results[t]["statuses"]["strict"]["error"] for t in TASKS) > 0
    if n > 1:
        assert results["mathlike"]["sampling"][mode]["avg@k"] == results["mathlike"][mode]
        assert records["mathlike"]["sampling"] == results["mathlike"]["sampling"]
