"""DeepSpeed training as real subprocesses on CPU: ZeRO-2 and ZeRO-3, one process and two processes
(``harness train --nproc 2``: torchrun with gloo), the saved checkpoint reloaded in a fresh process,
and kill -9 of ``harness train`` mid-run (its trainer dies with it) then ``--resume`` (final step count
right, no step logged twice).

All tests are slow (each starts Python + DeepSpeed; about 15-40 s each on 2 shared cores).
Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_train_dist.py``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness.prompts import get_prompt

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _sft(path: Path, n: int = 32) -> Path:
    t = get_prompt("qwen-boxed")
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        rows.append({"prompt": t.render(f"What is {a}+{b}?").text, "response": t.format_response(f"{a}+{b}={a + b}.", str(a + b))})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["PYTHONPATH"] = str(REPO)
    env["OMP_NUM_THREADS"] = "1"
    return env


def _harness_train(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "train", *args]
    return subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)


def _common(tiny, data, out, ds):
    return ["--model", str(tiny), "--data", str(data), "--output", str(out), "--deepspeed", ds, "--epochs", "1",
            "--lr", "1e-3", "--max-length", "256", "--global-batch", "8", "--save-steps", "2"]


def _losses(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "losses.jsonl").read_text().splitlines()]


RELOAD = """
import sys, torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer
base, out = sys.argv[1], sys.argv[2]
m = AutoModelForCausalLM.from_pretrained(out)
b = load_file(base + "/model.safetensors")
tok = AutoTokenizer.from_pretrained(out)
sd = m.state_dict()
assert all(sd[k].shape == v.shape for k, v in b.items()), "shapes differ from the base"
assert any(not torch.equal(sd[k], v) for k, v in b.items()), "weights unchanged"
ids = tok("Question: What is 3+4?", return_tensors="pt")
g = m.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
print("RELOADED", g.shape[1] - ids["input_ids"].shape[1])
"""


def _reload_in_fresh_process(base: Path, out: Path) -> None:
    r = subprocess.run([sys.executable, "-c", RELOAD, str(base), str(out)], env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "RELOADED 5" in r.stdout, r.stderr[-2000:]


@pytest.fixture(scope="module")
def one_proc_zero2(tiny_checkpoint, tmp_path_factory):
    """Reference loss curve: one process, ZeRO-2, batch 8."""
    out = tmp_path_factory.mktemp("z2") / "run"
    data = _sft(out.parent / "sft.jsonl")
    r = _harness_train(_common(tiny_checkpoint, data, out, "zero2") + ["--batch-size", "8"])
    assert r.returncode == 0, r.stderr[-3000:]
    return data, out


def test_zero3_one_process_saves_full_weights(tiny_checkpoint, one_proc_zero2, tmp_path):
    data, ref = one_proc_zero2
    out = tmp_path / "run"
    r = _harness_train(_common(tiny_checkpoint, data, out, "zero3") + ["--batch-size", "8"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert [x["loss"] for x in _losses(out)] == pytest.approx([x["loss"] for x in _losses(ref)], rel=2e-3)
    _reload_in_fresh_process(tiny_checkpoint, out)


@pytest.mark.parametrize("ds", ["zero2", "zero3"])
def test_two_processes_gloo(tiny_checkpoint, one_proc_zero2, tmp_path, ds):
    data, ref = one_proc_zero2
    out = tmp_path / "run"
    r = _harness_train(_common(tiny_checkpoint, data, out, ds) + ["--batch-size", "2", "--nproc", "2"])
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    rows = _losses(out)
    assert [x["step"] for x in rows] == [1, 2, 3, 4]  # rank 0 logs once per step
    summary = json.loads((out / "train_summary.json").read_text())["stages"][0]
    assert summary["global_batch"] == 8 and summary["grad_accum"] == 2
    # same global batches as one process with batch 8: same loss curve
    assert [x["loss"] for x in rows] == pytest.approx([x["loss"] for x in _losses(ref)], rel=5e-3)
    _reload_in_fresh_process(tiny_checkpoint, out)


def test_kill_parent_then_resume(tiny_checkpoint, tmp_path, kill9_launcher):
    """kill -9 of `harness train` alone (not its process group): the trainer it launched dies with it,
    freeing the output; --resume then finishes with every step logged once."""
    data = _sft(tmp_path / "sft.jsonl")
    out = tmp_path / "run"
    args = ["--model", str(tiny_checkpoint), "--data", str(data), "--output", str(out), "--deepspeed", "zero2",
            "--epochs", "100", "--max-steps", "40", "--batch-size", "8", "--global-batch", "8", "--lr", "1e-3",
            "--max-length", "256", "--save-steps", "3"]
    proc = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", "train", *args], cwd=REPO,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    kill9_launcher(proc, (out / "stage1" / "checkpoint-6" / "trainer_state.json").is_file, out / "train.pid",
                   hang_s=600)
    assert not (out / "train_summary.json").exists()
    logged_before = len(_losses(out))
    assert logged_before >= 6
    r = _harness_train(args + ["--resume"])
    assert r.returncode == 0, r.stderr[-3000:]
    stage = json.loads((out / "train_summary.json").read_text())["stages"][0]
    assert stage["steps"] == 40 and stage["resumed_from"] and stage["steps_this_session"] < 40
    steps = [x["step"] for x in _losses(out)]
    assert steps == list(range(1, 41))  # each step logged exactly once across the kill
    # without --resume the same output is refused with one clear line
    r = _harness_train(args)
    assert r.returncode == 1 and "Error: Output" in r.stderr and "--resume" in r.stderr


def test_a_rank_error_is_one_line_from_two_processes(tiny_checkpoint, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "Question: 1+1?\nAnswer:"}) + "\n")
    r = _harness_train(["--model", str(tiny_checkpoint), "--data", str(bad), "--output", str(tmp_path / "o"),
                        "--deepspeed", "zero2", "--nproc", "2", "--global-batch", "8"])
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert r.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith("Error: ") and str(bad) in lines[0] and "'response'" in lines[0]
