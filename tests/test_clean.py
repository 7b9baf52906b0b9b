"""``harness clean`` (synth/clean.py) end to end on real files: rows in the three ``harness train --data`` shapes
built from the real train splits, with planted test problems (verbatim and edited) of the registered test sets
and of an ``--against`` file, exact and near duplicates. Checks the kept lines byte for byte, the removed rows'
reasons and matches, the report; that the datatrove engine (local executor, 2 workers) and a 2-process pool
give the same result as one process; that a kill -9 keeps finished chunks and the rerun gives the same
output; one-line errors on bad input; and that a standalone ``harness synth`` removes copies of a custom
task's test problems named in its plan.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_clean.py``
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.data import load_task, task_names
from harness.errors import HarnessError
from synth.clean import CleanConfig, build_index, clean
from synth.dedup import words

REPO = Path(__file__).resolve().parents[1]
HELD = "A train leaves the station at 9 in the morning and travels toward a distant city at a steady speed " \
       "while a second train leaves the city at 10 and travels back toward the station along the same " \
       "track at a speed that is half again as fast; at what time do the two trains meet on the way?"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, data_dir):
    """Two input files and what each row should become (None: kept, else (reason, match))."""
    d = tmp_path_factory.mktemp("clean")
    # an independent oracle of the rule (a 30-word window, or the whole of a shorter text, equal to a test
    # problem's) drops the train problems that really are in a test set (MATH train/test overlap)
    grams = set()
    for t in task_names():
        try:
            probs = load_task(t, "test", data_dir_=data_dir, allow_hub=False)
        except HarnessError:
            continue
        for p in probs:
            w = tuple(words(p.question))
            grams |= {hash(w[i:i + 30]) for i in range(max(1, len(w) - 29))}
    train = load_task("gsm8k", "train", data_dir_=data_dir)[:300] + load_task("math", "train", data_dir_=data_dir)[:300]
    train = [p for p in train if not {hash(w[i:i + 30]) for w in [tuple(words(p.question))]
                                      for i in range(max(1, len(w) - 29))} & grams]
    math_test = [p for p in load_task("math", "test", data_dir_=data_dir) if len(p.question.split()) > 40][:2]
    gsm_short = next(p for p in load_task("gsm8k", "test", data_dir_=data_dir) if len(p.question.split()) < 25)
    rows, expect = [], []

    def add(row, outcome=None):
        rows.append(row)
        expect.append(outcome)

    for i, p in enumerate(train):
        shape = i % 3
        if shape == 0:
            add({"prompt": f"<|im_start|>user\n{p.question}<|im_end|>", "question": p.question, "response": "r"})
        elif shape == 1:
            add({"question": p.question, "answer": p.answer})
        else:
            add({"messages": [{"role": "user", "content": p.question}, {"role": "assistant", "content": "s"}]})
        if i == 10:
            add({"question": math_test[0].question, "answer": "x"}, ("contaminated", "math"))
        if i == 20:
            add({"messages": [{"role": "user", "content": "  " + math_test[1].question.upper().replace(" ", "\n ")}]},
                ("contaminated", "math"))
        if i == 30:
            add({"question": gsm_short.question.replace(".", " .").lower(), "response": "y"}, ("contaminated", "gsm8k"))
        if i == 40:
            add({"question": HELD.replace(";", ","), "response": "z"}, ("contaminated", "against"))
        if i == 50:
            add({"question": train[3].question + "  ", "answer": "dup"}, ("exact_dup", None))
        if i == 60 and len(train[9].question.split()) > 20:
            w = train[9].question.split(" ")
            add({"question": " ".join(w[:-3] + ["quickly"] + w[-2:]), "answer": "near"}, ("near_dup", None))
        if i == 70:
            add({"question": train[6].question.replace(next(c for c in train[6].question if c.isdigit()), "7", 1)
                 if any(c.isdigit() for c in train[6].question) else "Fresh problem 12345.", "answer": "v"})
    against = d / "heldout.jsonl"
    against.write_text(json.dumps({"question": HELD, "answer": "noon"}) + "\n")
    lines = [json.dumps(r) for r in rows]
    half = len(lines) // 2
    a, b = d / "a.jsonl", d / "b.jsonl"
    a.write_text("\n".join(lines[:half]) + "\n")
    b.write_text("\n".join(lines[half:]) + "\n")
    return {"dir": d, "inputs": [a, b], "lines": lines, "expect": expect, "against": against}


def _kept(ds):
    return [ln for ln, e in zip(ds["lines"], ds["expect"]) if e is None]


def test_cli_removes_what_it_should_and_reports_why(dataset):
    out = dataset["dir"] / "cli.jsonl"
    res = CliRunner().invoke(main, ["clean", *map(str, dataset["inputs"]), "--out", str(out), "--against",
                                    str(dataset["against"]), "--no-progress", "--chunk-mb", "0.02", "--workers", "1"])
    assert res.exit_code == 0, res.output
    got = out.read_text().splitlines()
    assert got[:5] == _kept(dataset)[:5] and got == _kept(dataset)  # byte for byte, input order
    removed = [json.loads(x) for x in Path(str(out) + ".removed.jsonl").read_text().splitlines()]
    want = [e for e in dataset["expect"] if e is not None]
    assert [r["reason"] for r in removed] == [e[0] for e in want]
    for r, (reason, src) in zip(removed, want):
        if reason == "contaminated":
            assert r["test_set"] == (str(dataset["against"]) if src == "against" else src)
        else:
            assert r["duplicate_of"].startswith(str(dataset["inputs"][0]))
    rep = json.loads(Path(str(out) + ".report.json").read_text())
    assert rep["counts"]["removed_contaminated"] == 4 and rep["counts"]["removed_exact_dup"] == 1
    assert rep["counts"]["removed_near_dup"] == sum(e is not None and e[0] == "near_dup" for e in want)
    assert rep["counts"]["kept"] == len(got) and rep["decontam"]["by_test_set"]["math"] == 2
    assert {e["reason"] for e in rep["examples"]} == {r["reason"] for r in removed}
    assert "test set" in res.output and "contaminated" in res.output and "rows_in" in res.output
    assert not Path(str(out) + ".work").exists()


def test_engines_and_worker_counts_agree(dataset):
    index = build_index(CleanConfig(), against=(str(dataset["against"]),))
    outs = {}
    for name, cfg in {"one": CleanConfig(workers=1, chunk_mb=0.02),
                      "pool2": CleanConfig(workers=2, chunk_mb=0.02),
                      "datatrove2": CleanConfig(workers=2, chunk_mb=0.02, engine="datatrove")}.items():
        if name == "datatrove2":
            pytest.importorskip("datatrove", reason="the datatrove engine needs `pip install datatrove`")
        out = dataset["dir"] / f"{name}.jsonl"
        rep = clean(list(map(str, dataset["inputs"])), out, cfg, index=index)
        outs[name] = (out.read_bytes(), Path(str(out) + ".removed.jsonl").read_bytes(), rep["counts"])
    assert outs["one"][0].decode().splitlines() == _kept(dataset)
    assert outs["one"] == outs["pool2"] == outs["datatrove2"]


def test_kill_keeps_finished_chunks_and_rerun_matches(dataset, tmp_path):
    big = tmp_path / "big.jsonl"
    big.write_text("".join(ln + "\n" for ln in dataset["lines"] * 8))
    ref = clean([str(big)], tmp_path / "ref.jsonl", CleanConfig(workers=1, chunk_mb=0.01))
    out = tmp_path / "k.jsonl"
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "clean", str(big), "--out", str(out),
           "--workers", "1", "--chunk-mb", "0.002", "--no-progress"]
    p = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    work = Path(str(out) + ".work")
    while p.poll() is None and not list(work.glob("chunk-[0-9][0-9][0-9][0-9][0-9].npz")):
        time.sleep(0.01)  # waiting for the event "a chunk is finished"
    os.kill(p.pid, signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    done = len(list(work.glob("chunk-[0-9][0-9][0-9][0-9][0-9].npz")))
    rep = clean([str(big)], out, CleanConfig(workers=1, chunk_mb=0.002))
    assert done >= 1 and rep["chunks"]["reused"] == done
    assert out.read_bytes() == (tmp_path / "ref.jsonl").read_bytes() and rep["counts"] == ref["counts"]


def test_bad_input_is_one_error_line(tmp_path, dataset):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(dataset["lines"][0] + "\n" + '{"text": "no known field"}\n')
    r = CliRunner().invoke(main, ["clean", str(bad), "--out", str(tmp_path / "o.jsonl"), "--no-progress",
                                  "--workers", "1"])
    assert r.exit_code == 1 and r.output.startswith("Error: ") and f"{bad}: line 2" in r.output
    assert "'messages'" in r.output and not (tmp_path / "o.jsonl").exists()
    bad.write_text(dataset["lines"][0] + "\n{not json\n")
    r = CliRunner().invoke(main, ["clean", str(bad), "--out", str(tmp_path / "o.jsonl"), "--no-progress"])
    assert r.exit_code == 1 and "line 2 is not JSON" in r.output
    r = CliRunner().invoke(main, ["clean", str(bad), "--out", str(bad)])
    assert r.exit_code == 1 and "also an input" in r.output
    r = CliRunner().invoke(main, ["clean", str(bad), "--out", "x.jsonl", "--num-perm", "10", "--bands", "3"])
    assert r.exit_code == 1 and "divisible" in r.output


def test_standalone_synth_decontaminates_against_plan_custom_task(tmp_path, data_dir):
    from harness.prompts import get_prompt
    from synth.pipeline import SynthConfig, generator_items, run_synth

    cell = {"task": "my_algebra", "subject": "Algebra", "level": 2, "n_new": 30}
    cfg = SynthConfig(data_dir=str(data_dir))
    items, _ = generator_items(cell, int(cell["n_new"] * cfg.oversample), cfg.seed)
    copied = list(dict.fromkeys(it["question"] for it in items))[:5]
    run = tmp_path / "run"
    run.mkdir()
    tmpl = get_prompt("qwen-boxed")
    (run / "manifest.json").write_text(json.dumps({"model": "m", "prompt": tmpl.ident(), "n_shot": 0}))
    (run / "samples.jsonl").write_text("".join(
        json.dumps({"task": "my_algebra", "id": f"t{i}", "sample_idx": 0, "prompt": tmpl.render(q, 0).text}) + "\n"
        for i, q in enumerate(copied)))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"source_run": str(run), "cells": [cell]}))
    rep = run_synth(plan, tmp_path / "sft.jsonl", cfg)
    rows = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert not set(copied) & {r["question"] for r in rows}
    assert rep["decontam"]["by_test_set"] == {"my_algebra": 5} and rep["counts"]["removed_contaminated"] == 5
    assert "my_algebra" in {s["name"] for s in rep["decontam"]["test_sets"]}


def test_plan_custom_task_without_source_run_is_reported_missing(tmp_path):
    from synth.clean import plan_test_sets

    extra, missing = plan_test_sets({"cells": [{"task": "not_registered_task"}]})
    assert extra == [] and [m["name"] for m in missing] == ["not_registered_task"]
    assert "source_run" in missing[0]["why"]
    extra, missing = plan_test_sets({"cells": [{"task": "gsm8k"}], "source_run": str(tmp_path)})
    assert extra == [] and missing == []  # registered tasks are indexed from the registry, not the run
