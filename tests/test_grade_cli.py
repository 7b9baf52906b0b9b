"""`harness grade` and `harness tasks` end to end, on real JSONL files written in tmp_path.

Covers our {output, gold} rows, {output, id} rows joined to ../shared/data MATH-500, real-looking
lm-evaluation-harness --log_samples files (gsm8k with one row per filter; minerva_math), the
--output file, and bad input (exit 1, "Error:" with file:line). Most tests use click's CliRunner;
one runs the real CLI in a subprocess.

Run: HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_grade_cli.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

REPO = Path(__file__).resolve().parents[1]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def run(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_output_gold_rows_both_modes_and_output_file(tmp_path):
    rows = [
        {"output": "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips.\n#### 72", "gold": "72",
         "model": "tiny"},
        {"output": "He runs 3 sprints 3 times a week, 60 m each: 3*3*60 = 540 meters.", "gold": 540},
        {"output": "Weng earns 12/60 = 0.2 per minute, so 0.2*50 = 10.\nThe answer is 12.", "gold": "10"},
        {"output": "I am not sure how to solve this.", "gold": "5"},
    ]
    inp = write_jsonl(tmp_path / "outputs.jsonl", rows)
    out = tmp_path / "graded.jsonl"
    res = run(["grade", "--input", str(inp), "--task", "gsm8k", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "gsm8k: accuracy (strict) 25.0%" in res.output and "1/4" in res.output
    graded = read_jsonl(out)
    assert len(graded) == 4
    assert graded[0]["model"] == "tiny"  # extra fields kept
    assert [g["status_strict"] for g in graded] == ["correct", "no_answer", "wrong", "no_answer"]
    assert [g["status_flexible"] for g in graded] == ["correct", "correct", "wrong", "no_answer"]
    assert graded[1]["extracted_flexible"] == "540" and graded[1]["extracted_strict"] is None
    # --mode picks the headline only
    res = run(["grade", "--input", str(inp), "--task", "gsm8k", "--mode", "flexible"])
    assert "gsm8k: accuracy (flexible) 50.0%" in res.output


def test_id_rows_joined_to_math500(tmp_path, data_dir):
    probs = [json.loads(x) for x in (data_dir / "math" / "math500.jsonl").read_text().splitlines()[:6]]
    rows = []
    for i, p in enumerate(probs):
        if i < 3:
            out = f"Working through it step by step.\nTherefore the answer is $\\boxed{{{p['answer']}}}$."
        elif i == 3:
            out = "Let me compute the final value: $\\boxed{\\frac{12345}{6789"  # truncated, box never closed
        else:
            out = "After simplifying, we get $\\boxed{-98765}$."
        key = "id" if i % 2 == 0 else "unique_id"
        rows.append({"output": out, key: p["unique_id"]})
    inp = write_jsonl(tmp_path / "m.jsonl", rows)
    out = tmp_path / "g.jsonl"
    res = run(["grade", "--input", str(inp), "--task", "math500", "--data-dir", str(data_dir), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "3/6" in res.output and "6 output+id" in res.output
    graded = read_jsonl(out)
    assert [g["status_strict"] for g in graded] == ["correct"] * 3 + ["no_answer", "wrong", "wrong"]
    assert graded[0]["gold_used"] == probs[0]["answer"]
    # per-subject and per-level tables from the joined problems
    assert "subject" in res.output and probs[0]["subject"] in res.output and "level" in res.output


def _gsm8k_sample(doc_id: int, question: str, solution: str, resp: str, filt: str, filtered: str) -> dict:
    prompt = f"Question: {question}\nAnswer:"
    return {
        "doc_id": doc_id,
        "doc": {"question": question, "answer": solution},
        "target": solution,
        "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["Question:", "</s>", "<|im_end|>"],
                                                                 "do_sample": False, "temperature": 0.0}}},
        "resps": [[resp]],
        "filtered_resps": [filtered],
        "filter": filt,
        "metrics": ["exact_match"],
        "doc_hash": "7d8a9e3a5f1c",
        "prompt_hash": "c1d2e3f4a5b6",
        "target_hash": "0a1b2c3d4e5f",
        "exact_match": 1.0 if filtered == solution.split("#### ")[-1] else 0.0,
    }


def test_lm_eval_gsm8k_log_samples(tmp_path):
    q0 = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. " \
         "How many clips did Natalia sell altogether in April and May?"
    s0 = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips " \
         "altogether in April and May.\n#### 72"
    r0 = " Natalia sold 48/2 = 24 clips in May. In total 48+24 = 72 clips.\n#### 72\n\nQuestion: Weng earns " \
         "$12 an hour for babysitting.\nAnswer: 12/60 = 0.2, 0.2*50 = 10\n#### 10"
    q1 = "Betty is saving money for a new wallet which costs $100. How much more money does Betty need?"
    s1 = "Betty has 100 / 2 = <<100/2=50>>50.\nHer grandparents gave 15 * 2 = <<15*2=30>>30.\n" \
         "She needs 100 - 50 - 30 - 15 = <<100-50-30-15=5>>5 more.\n#### 5"
    r1 = " Betty has 50 dollars, parents give 15, grandparents 30, so she needs 100 - 95 = $5.00"
    q2 = "James writes a 3-page letter to 2 different friends twice a week. How many pages a year?"
    s2 = "He writes 3*2 = <<3*2=6>>6 pages each time.\nSo 6*2 = <<6*2=12>>12 a week.\n" \
         "That means 12*52 = <<12*52=624>>624 pages.\n#### 624"
    r2 = " He writes 3*2=6 pages, twice a week is 12, times 52 weeks.\nThe answer is 620."
    rows = []
    for filt, pick in (("strict-match", 0), ("flexible-extract", 1)):
        rows.append(_gsm8k_sample(0, q0, s0, r0, filt, "72" if pick == 0 else "10"))
        rows.append(_gsm8k_sample(1, q1, s1, r1, filt, "[invalid]" if pick == 0 else "$5.00"))
        rows.append(_gsm8k_sample(2, q2, s2, r2, filt, "[invalid]" if pick == 0 else "620"))
    inp = write_jsonl(tmp_path / "samples_gsm8k_2025-03-01T12-00-00.123456.jsonl", rows)
    out = tmp_path / "g.jsonl"
    res = run(["grade", "--input", str(inp), "--task", "gsm8k", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "ignored 3 repeated lm-eval rows" in res.output
    graded = read_jsonl(out)
    assert len(graded) == 3
    by_id = {g["doc_id"]: g for g in graded}
    # lm-eval's flexible-extract took "10" from the run-on exemplar; we take 72 (before the run-on)
    assert by_id[0]["extracted_strict"] == "72" and by_id[0]["status_strict"] == "correct"
    assert by_id[0]["status_flexible"] == "correct"
    assert by_id[1]["status_strict"] == "no_answer" and by_id[1]["extracted_flexible"] == "5.00"
    assert by_id[2]["extracted_strict"] == "620" and by_id[2]["status_strict"] == "wrong"
    assert by_id[0]["gold_used"] == "72" and by_id[1]["gold_used"] == "5"


def test_lm_eval_minerva_math_log_samples(tmp_path):
    doc = {
        "problem": "Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.",
        "level": "Level 5",
        "type": "Algebra",
        "solution": "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, and "
                    "$5 - x > 0$. Therefore, the domain of the expression is $\\boxed{[2,5)}$.",
        "answer": "[2,5)",
    }
    resp = "We need $x - 2 \\ge 0$ and $5 - x > 0$, so $2 \\le x < 5$.\nFinal Answer: The final answer is " \
           "$[2,5)$. I hope it is correct.\n\nProblem:\nWhat is $1+1$?\n\nSolution:\n$1+1=2$.\n" \
           "Final Answer: The final answer is $2$. I hope it is correct."
    row = {"doc_id": 0, "doc": doc, "target": "[2,5)", "arguments": {"gen_args_0": {"arg_0": "Problem:\n..."}},
           "resps": [[resp]], "filtered_resps": [resp], "filter": "none", "metrics": ["exact_match", "math_verify"],
           "doc_hash": "ab", "prompt_hash": "cd", "target_hash": "ef", "exact_match": 1, "math_verify": 1}
    inp = write_jsonl(tmp_path / "samples_minerva_math_algebra_2025-03-01T12-00-00.jsonl", [row])
    out = tmp_path / "g.jsonl"
    res = run(["grade", "--input", str(inp), "--task", "math", "--output", str(out)])
    assert res.exit_code == 0, res.output
    g = read_jsonl(out)[0]
    assert (g["gold_used"], g["extracted_strict"], g["status_strict"]) == ("[2,5)", "[2,5)", "correct")
    assert "Algebra" in res.output  # subject from doc["type"]; level 5 from "Level 5"
    assert "      5    1" in res.output


def test_bad_line_real_subprocess_exit_1(tmp_path):
    inp = write_jsonl(tmp_path / "bad.jsonl", [
        {"output": "The answer is 4", "gold": "4"},
        {"output": "The answer is 5", "gold": "5"},
        '{"output": "The answer is 6", "gold": "6"',  # torn line
    ])
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "grade", "--input", str(inp),
           "--task", "gsm8k"]
    p = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert p.stderr.startswith("Error: ") and f"{inp}:3:" in p.stderr and "--skip-bad" in p.stderr
    assert "Traceback" not in p.stderr
    p = subprocess.run(cmd + ["--skip-bad"], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "2/2" in p.stdout and "skipped 1 bad line(s): 3" in p.stdout


@pytest.mark.parametrize("row,needle", [
    ({"text": "The answer is 4", "gold": "4"}, "expected a string field 'output'"),
    ({"output": "The answer is 4"}, "expected a 'gold' or an 'id'"),
    ({"output": "The answer is 4", "gold": True}, "expected 'gold'"),
    ([1, 2], "expected a JSON object"),
])
def test_bad_rows_name_the_line(tmp_path, row, needle):
    inp = write_jsonl(tmp_path / "x.jsonl", [{"output": "#### 1", "gold": "1"}, row])
    res = CliRunner().invoke(main, ["grade", "--input", str(inp), "--task", "gsm8k"])
    assert res.exit_code == 1
    assert "Error:" in res.output and f"{inp}:2:" in res.output and needle in res.output


def test_unknown_id_and_unknown_task(tmp_path, data_dir):
    inp = write_jsonl(tmp_path / "x.jsonl", [{"output": "\\boxed{1}", "id": "test/algebra/999999.json"}])
    res = CliRunner().invoke(main, ["grade", "--input", str(inp), "--task", "math500", "--data-dir", str(data_dir)])
    assert res.exit_code == 1 and "is not a problem of task 'math500'" in res.output
    res = CliRunner().invoke(main, ["grade", "--input", str(inp), "--task", "math5000"])
    assert res.exit_code == 1 and "Did you mean 'math500'" in res.output


def test_tasks_lists_registry(data_dir):
    res = run(["tasks", "--data-dir", str(data_dir)])
    assert res.exit_code == 0
    assert "math500" in res.output and "test 500 (found)" in res.output and "train 7473 (found)" in res.output


def test_non_utf8_line_names_line_and_byte_and_skip_bad_counts_it(tmp_path):
    inp = tmp_path / "b.jsonl"
    inp.write_bytes(b'{"output": "\\\\boxed{2}", "gold": "2"}\n\x00\xff\xfe\n{"output": "#### 3", "gold": "3"}\n')
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "grade", "--input", str(inp),
           "--task", "math"]
    p = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith(f"Error: {inp}:2: expected UTF-8 text, found byte 0xff at byte 2")
    p = subprocess.run(cmd + ["--skip-bad"], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "1/2" in p.stdout and "skipped 1 bad line(s): 2" in p.stdout


def test_grade_by_id_on_a_new_task(tmp_path, data_dir):
    inp = write_jsonl(tmp_path / "x.jsonl", [{"output": "so $\\boxed{204}$", "id": "2024-I-1"},
                                             {"output": "so $\\boxed{113}$", "id": "2024-I-2"}])
    res = run(["grade", "--input", str(inp), "--task", "aime24", "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert "1/2" in res.output and "AIME 2024 I" in res.output


def test_lm_eval_logs_of_new_tasks_use_the_tasks_own_gold(tmp_path, data_dir):
    ob = json.loads((data_dir / "olympiadbench" / "test.jsonl").read_text().splitlines()[0])
    inp = write_jsonl(tmp_path / "samples_aime24.jsonl", [
        # lm-eval's own aime24 task (Maxwell-Jia/AIME_2024 rows): the gold "033" is the integer 33
        {"doc_id": 0, "doc": {"ID": "2024-II-4", "Problem": "Find x.", "Solution": "so $\\boxed{33}$", "Answer": "033"},
         "resps": [["Thus the answer is $\\boxed{33}$."]], "filtered_resps": ["33"], "filter": "none"},
        {"doc_id": 1, "doc": {"ID": "2024-II-5", "Problem": "Find y.", "Solution": "", "Answer": "104"},
         "resps": [["Thus the answer is $\\boxed{105}$."]], "filtered_resps": ["105"], "filter": "none"},
    ])
    res = run(["grade", "--input", str(inp), "--task", "aime24"])
    assert res.exit_code == 0, res.output
    assert "1/2" in res.output and "AIME 2024 II" in res.output
    inp = write_jsonl(tmp_path / "samples_harness_olympiadbench.jsonl", [
        {"doc_id": 0, "doc": ob, "resps": [["The answer is $\\boxed{2}$."]], "filtered_resps": ["2"], "filter": "none"}])
    res = run(["grade", "--input", str(inp), "--task", "olympiadbench"])
    assert res.exit_code == 0 and "1/1" in res.output and "Combinatorics" in res.output, res.output
    res = CliRunner().invoke(main, ["grade", "--input", str(inp), "--task", "aime25"])
    assert res.exit_code == 1 and "is not a row of task aime25" in res.output
