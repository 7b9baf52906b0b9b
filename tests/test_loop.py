"""The closed loop (harness/loop): config validation, refusal of a changed config, and the demo
preset at reduced size end to end, killed mid-round and resumed.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_loop.py``
(the demo test is marked slow: a few minutes on 2 cores).
"""

from __future__ import annotations

import dataclasses
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
from harness.errors import ConfigError
from harness.loop import LoopConfig, config_from_mapping, load_yaml_config

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from harness.cli import main; main()"]


def test_every_config_field_is_a_flag_and_a_yaml_key(tmp_path):
    res = CliRunner().invoke(main, ["loop", "--help"])
    assert res.exit_code == 0
    fields = [f.name for f in dataclasses.fields(LoopConfig)]
    assert len(fields) > 20
    for name in fields:
        assert "--" + name.replace("_", "-") in res.output, name
    yaml_text = "\n".join([
        "model: ./ckpt", "tasks: [math500, gsm8k]", "run-dir: runs/x", "rounds: 3", "target: 0.7", "budget: 500",
        "replay: 0.1", "teacher_backend: openai", "teacher_model: big", "teacher_base_url: http://127.0.0.1:1/v1",
        "lr: 2.0e-5", "deepspeed: zero3",
    ])
    (tmp_path / "loop.yaml").write_text(yaml_text)
    cfg = config_from_mapping(load_yaml_config(tmp_path / "loop.yaml"))
    assert cfg.tasks == ("math500", "gsm8k") and cfg.rounds == 3 and cfg.deepspeed == "zero3" and cfg.lr == 2e-5


def test_bad_config_is_refused_before_any_work(tmp_path):
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(main, ["loop", "--model", "m", "--run-dir", str(run_dir), "--rounds", "0",
                                    "--replay", "1.5"])
    assert res.exit_code == 1
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert "--tasks is required" in lines[0] and "--rounds" in lines[0] and "--replay" in lines[0]
    assert not run_dir.exists()
    (tmp_path / "bad.yaml").write_text("model: m\ntasks: gsm8k\nrun_dir: x\nround: 3\n")
    res = CliRunner().invoke(main, ["loop", "--config", str(tmp_path / "bad.yaml")])
    assert res.exit_code == 1 and "Did you mean 'rounds'" in res.output
    with pytest.raises(ConfigError, match="teacher-model"):
        LoopConfig(model="m", tasks=("gsm8k",), run_dir="r", teacher_backend="openai")


def test_changed_config_is_refused_on_resume(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    notckpt = tmp_path / "notckpt"
    notckpt.mkdir()
    args = ["loop", "--model", str(notckpt), "--tasks", "math500", "--limit", "2", "--run-dir", str(run_dir)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "Error:" in res.output  # not a checkpoint: fails in round 0
    assert (run_dir / "loop.json").is_file()
    res = CliRunner().invoke(main, args + ["--rounds", "5"])
    assert res.exit_code == 1
    assert "different rounds" in res.output and "new --run-dir" in res.output


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.slow
def test_demo_improves_targeted_cells_and_resumes_after_kill(tmp_path, data_dir):
    run_dir = tmp_path / "demo"
    env = {**os.environ, "HARNESS_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "2"}
    cmd = CLI + ["loop", "--preset", "demo", "--demo-size", "ci", "--run-dir", str(run_dir)]
    # 1. start, and kill -9 the whole process group while round 1 is training
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    marker = run_dir / "round_01" / "ckpt" / "train_config.json"
    deadline = time.time() + 600
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, "the demo ended before round 1 training started"
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "round_01" / "ckpt" / "train_summary.json").exists()
    base_mtime = (run_dir / "round_00" / "eval" / "samples.jsonl").stat().st_mtime
    # 2. the same command resumes and finishes
    out = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (run_dir / "round_00" / "eval" / "samples.jsonl").stat().st_mtime == base_mtime  # not redone
    summary = json.loads((run_dir / "loop_summary.json").read_text())
    rounds = [h["round"] for h in summary["rounds"]]
    assert rounds[0] == 0 and len(rounds) >= 2
    last = rounds[-1]
    # 3. nothing lost or counted twice: 4 cells x 40 problems in every evaluation
    for r in rounds:
        samples = _rows(run_dir / f"round_{r:02d}" / "eval" / "samples.jsonl")
        keys = {(s["task"], s["id"], s["sample_idx"]) for s in samples}
        assert len(samples) == len(keys) == 160
    # 4. the targeted cells rose by a margin the paired CI supports; nothing untargeted fell significantly
    from harness.loop import compare_rounds

    targeted = set()
    for r in rounds[1:]:
        targeted |= {tuple(t) for t in json.loads((run_dir / f"round_{r:02d}" / "summary.json").read_text())["targeted"]}
    assert {t[1] for t in targeted} >= {"digits/tens", "digits/parity"}
    cmp = compare_rounds(run_dir / "round_00" / "eval", run_dir / f"round_{last:02d}" / "eval", targeted, "strict", 0.05)
    for c in cmp["cells"]:
        if c["targeted"]:
            assert c["diff"] >= 0.20 and c["ci"][0] > 0 and c["p"] < 0.05, c
        else:
            assert not c["significant_loss"], c
    assert "targeted" in out.stdout and "[demo] round 0 -> round" in out.stdout
    # 5. leaderboard: one row per round, tables and plots written; scaling rows once per round and cell
    records = _rows(run_dir / "leaderboard" / "records.jsonl")
    assert sorted(str(r.get("round")) for r in records) == sorted(str(r) for r in rounds)
    pngs = list((run_dir / "leaderboard").glob("*.png"))
    assert pngs and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    scal = _rows(run_dir / "scaling.jsonl")
    assert len(scal) == len({(s["round"], s["subject"]) for s in scal}) == 4 * len(rounds)
    # 6. a finished loop re-run does no work and adds nothing
    again = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0
    assert len(_rows(run_dir / "leaderboard" / "records.jsonl")) == len(records)
    assert len(_rows(run_dir / "scaling.jsonl")) == len(scal)
