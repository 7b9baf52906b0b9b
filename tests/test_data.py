"""The task registry and loaders (``harness.data``) on the real data folder (``data_dir`` fixture):
golds as each benchmark's protocol defines them (checked against the raw rows), cell labels, the
documented tolerance, group aliases, relative data folders (also across subprocesses), errors that
name every place looked and the file line of a bad row, and ``harness tasks``.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_data.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.data import (
    GROUPS,
    TASKS,
    expand_tasks,
    get_task,
    integer_gold,
    load_task,
    register_jsonl_task,
    registered_test_sets,
)
from harness.errors import DataError, HarnessError

REPO = Path(__file__).resolve().parents[1]
NEW = {"aime24": 30, "aime25": 30, "amc23": 40, "minerva_math": 272, "olympiadbench": 675, "svamp": 1000}


def _raw(data_dir: Path, task: str) -> list[dict]:
    return [json.loads(x) for x in (data_dir / task / "test.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("task,n", sorted(NEW.items()))
def test_new_task_counts_ids_and_versions(data_dir, task, n):
    problems = load_task(task, data_dir_=data_dir)
    assert len(problems) == n == TASKS[task].splits["test"]
    assert len({p.id for p in problems}) == n
    assert all(p.question.strip() and p.task == task and p.level is None for p in problems)
    assert TASKS[task].version == "1.0" and TASKS[task].hub_id


def test_aime_and_amc_golds_are_integers(data_dir):
    for task in ("aime24", "aime25"):
        raw, probs = _raw(data_dir, task), load_task(task, data_dir_=data_dir)
        for r, p in zip(raw, probs):
            assert p.answer == str(int(r["answer"])) and 0 <= int(p.answer) <= 999
        assert Counter(p.subject for p in probs) == {f"AIME 20{task[-2:]} I": 15, f"AIME 20{task[-2:]} II": 15}
    assert load_task("aime24", data_dir_=data_dir)[0].id == "2024-I-1"
    assert any(r["answer"] == "025" for r in _raw(data_dir, "aime24"))  # "025" is the integer 25
    raw, probs = _raw(data_dir, "amc23"), load_task("amc23", data_dir_=data_dir)
    assert raw[0]["answer"] == 27.0 and probs[0].answer == "27"
    assert all(p.answer == str(int(r["answer"])) for r, p in zip(raw, probs))
    assert set(Counter(p.subject for p in probs)) == {"AMC 2023 12A", "AMC 2023 12B"}
    with pytest.raises(DataError, match="integer answer in 0-999"):
        integer_gold("1000", "aime", lo=0, hi=999)
    with pytest.raises(DataError, match="integer answer"):
        integer_gold("27.5", "amc")


def test_minerva_gold_is_the_last_box_of_the_solution(data_dir):
    raw, probs = _raw(data_dir, "minerva_math"), load_task("minerva_math", data_dir_=data_dir)
    for r, p in zip(raw, probs):
        last = r["solution"].rfind("\\boxed{")
        assert last >= 0 and r["solution"].startswith(p.answer, last + len("\\boxed{")), p.id
        assert p.subject == r["type"]
    assert probs[0].answer == "1.6" and probs[1].answer == "4.5e33"  # "\boxed{1.6} \mathrm{~cm}"
    assert len({p.subject for p in probs}) == len({r["type"] for r in raw}) >= 7
    assert TASKS["minerva_math"].rel_tol == 1e-5
    assert all(TASKS[t].rel_tol is None for t in NEW if t != "minerva_math")


def test_olympiadbench_gold_unit_and_cells(data_dir):
    raw, probs = _raw(data_dir, "olympiadbench"), load_task("olympiadbench", data_dir_=data_dir)
    for r, p in zip(raw, probs):
        assert p.answer == ", ".join(a.replace("$", "").strip() for a in r["final_answer"])
        assert p.subject == r["subfield"] and p.meta["unit"] == r["unit"]
        assert p.meta["is_multiple_answer"] == r["is_multiple_answer"]
    multi = next(p for p in probs if p.meta["is_multiple_answer"] and p.answer.startswith("(1,8,19)"))
    assert multi.answer == "(1,8,19), (2,7,13), (4,5,7)"
    assert {p.meta["unit"] for p in probs if p.id == "2253"} == {"minute"}
    assert Counter(p.subject for p in probs) == {"Algebra": 264, "Combinatorics": 154, "Geometry": 129,
                                                 "Number Theory": 128}


def test_svamp_question_gold_and_cells(data_dir):
    raw, probs = _raw(data_dir, "svamp"), load_task("svamp", data_dir_=data_dir)
    for r, p in zip(raw, probs):
        assert float(p.answer) == r["Answer"] and p.id == r["ID"]
        assert p.question.startswith(r["Body"].strip()) and p.question.endswith(r["Question"].strip())
    assert probs[0].answer == "145"
    assert probs[0].question == ("There are 87 oranges and 290 bananas in Philip's collection. If the bananas are "
                                 "organized into 2 groups and oranges are organized into 93 groups. How big is each "
                                 "group of bananas?")
    assert TASKS["svamp"].answer_task == "gsm8k"
    assert set(Counter(p.subject for p in probs)) == {f"SVAMP {k}" for k in (
        "Subtraction", "Addition", "Common-Division", "Multiplication")}


def test_every_registered_test_set_loads(data_dir):
    sets = registered_test_sets()
    assert {t for t, _ in sets} == set(TASKS) and all(s == "test" for _, s in sets)
    sizes = {t: len(load_task(t, s, data_dir_=data_dir)) for t, s in sets}
    assert sizes == {t: TASKS[t].splits["test"] for t in TASKS}


def test_group_aliases_expand_in_order_without_repeats():
    assert GROUPS["reasoning"] == ("aime24", "aime25", "amc23", "math500", "minerva_math", "olympiadbench")
    assert GROUPS["classic"] == ("gsm8k", "math500", "svamp")
    assert expand_tasks(["reasoning", "classic"]) == [
        "aime24", "aime25", "amc23", "math500", "minerva_math", "olympiadbench", "gsm8k", "svamp"]
    assert expand_tasks("gsm8k, classic,my.jsonl") == ["gsm8k", "math500", "svamp", "my.jsonl"]
    with pytest.raises(HarnessError, match="group of tasks.*--tasks aime24,aime25,amc23,math500,minerva_math"):
        get_task("reasoning")
    with pytest.raises(HarnessError, match="Did you mean 'aime24'.*reasoning"):
        get_task("aime2024")


def test_relative_data_dir_is_absolute_and_reaches_subprocesses(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rel = os.path.relpath(data_dir.resolve(), tmp_path)
    from harness import data as hdata

    assert hdata.data_dir(rel) == Path(os.path.abspath(rel))
    monkeypatch.setenv("HARNESS_DATA_DIR", rel)
    assert hdata.data_dir() == data_dir.resolve() and os.environ["HARNESS_DATA_DIR"] == str(data_dir.resolve())
    # A user's shell: a relative HARNESS_DATA_DIR; the harness process starts a child in another directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    child = ("import subprocess, sys; import harness.data; "
             "sys.exit(subprocess.run([sys.executable, '-c', \"from harness.data import load_task; "
             "print(len(load_task('aime25')))\"], cwd=sys.argv[1]).returncode)")
    env = {**os.environ, "HARNESS_DATA_DIR": rel, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", child, str(elsewhere)], check=False, cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "30", out.stderr


def test_missing_data_names_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    with pytest.raises(DataError) as e:
        load_task("olympiadbench", data_dir_=tmp_path, allow_hub=False)
    msg = str(e.value)
    assert str(tmp_path / "olympiadbench" / "test.jsonl") in msg
    assert "HF hub Hothan/OlympiadBench:OE_TO_maths_en_COMP (not tried: this step reads local files only)" in msg and "--data-dir" in msg
    with pytest.raises(DataError, match="no data folder.*HF hub HuggingFaceH4/aime_2024 .not tried: this step reads local files only"):
        load_task("aime24", allow_hub=False)


def test_custom_jsonl_errors_name_the_file_line_and_the_field_map(tmp_path):
    f = tmp_path / "mine.jsonl"
    f.write_text('{"prompt": "1+1?", "answer": "2"}\n\n{"prompt": "2+2?", "target": "4"}\n')
    register_jsonl_task("mine_bad", f, fields={"question": "prompt"})
    with pytest.raises(DataError) as e:
        load_task("mine_bad")
    msg = str(e.value)
    assert msg.startswith(f"{f}:3: ") and "line-record" not in msg
    assert "'answer'" in msg and "--field answer=" in msg and "prompt, target" in msg
    register_jsonl_task("mine_ok", f, fields={"question": "prompt", "answer": "target"})
    with pytest.raises(DataError, match=f"{f}:1: .*--field answer="):  # line 1 has no 'target'
        load_task("mine_ok")


def test_line_numbers_count_a_line_of_unicode_space_as_blank(tmp_path):
    # one pass reads rows and their line numbers: a line holding only U+3000 is blank for both
    f = tmp_path / "ideo.jsonl"
    f.write_text('{"question": "1+1?", "answer": "2"}\n\u3000\n{"question": "2+2?"}\n', encoding="utf-8")
    register_jsonl_task("ideo_space", f)
    with pytest.raises(DataError, match=rf"^{f}:3: "):
        load_task("ideo_space")


def test_non_utf8_data_file_is_one_clear_error(tmp_path):
    f = tmp_path / "latin.jsonl"
    f.write_bytes(b'{"question": "caf\xe9", "answer": "1"}\n')
    register_jsonl_task("latin", f)
    with pytest.raises(DataError, match=rf"^{f}:1: expected UTF-8 text, found byte 0xe9"):
        load_task("latin")


def test_tasks_command_lists_tasks_aliases_counts_and_data(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rel = os.path.relpath(data_dir.resolve(), tmp_path)
    res = CliRunner().invoke(main, ["tasks", "--data-dir", rel])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    for task, n in NEW.items():
        row = next(x for x in lines if x.startswith(task + " "))
        assert f"test {n} (found)" in row and TASKS[task].hub_id in row
    assert "exact; tol 1e-05 rel" in next(x for x in lines if x.startswith("minerva_math "))
    assert any(x.startswith("reasoning ") and "1547" in x and "6 of 6 found" in x for x in lines)
    assert any(x.startswith("classic ") and "2819" in x and "3 of 3 found" in x for x in lines)
    assert f"Data folder: {data_dir.resolve()}" in res.stdout
    bad = CliRunner().invoke(main, ["tasks", "--data-dir", "/nonexistent"])
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: ") and "/nonexistent" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_eval_on_a_custom_file_with_other_field_names_says_line_and_fix(tmp_path):
    f = tmp_path / "probs.jsonl"
    f.write_text('{"prompt": "1+1?", "target": "2"}\n')
    res = CliRunner().invoke(main, ["eval", "--model", str(tmp_path / "no-model"), "--tasks", str(f),
                                    "--output-dir", str(tmp_path / "run")])
    assert res.exit_code == 1 and res.stderr.startswith(f"Error: {f}:1: ")
    assert "--field question=THEIR_NAME --field answer=THEIR_NAME" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "run" / "samples.jsonl").exists()
