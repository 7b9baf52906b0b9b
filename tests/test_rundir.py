"""The one run-directory contract (:mod:`harness.rundir`): its resume policy on real manifest files, its
lock against a live writer in another process (freed when that process is killed), and that every stage
(eval, synth's sidecar, train, the loop) refuses a changed config with the same one message naming each
changed field.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_rundir.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.rundir import RunDir, Unreadable, hashed, read_manifest, resume_policy

REPO = Path(__file__).resolve().parents[1]
ONE_REFUSAL = "holds work made with a different config ("


def test_policy_new_resume_replace_refuse(tmp_path):
    a, b = hashed({"lr": 1, "data": "x"}), hashed({"lr": 2, "data": "x"})
    assert resume_policy(tmp_path, None, a, has_work=False, fix="f")[1] == "new"
    assert resume_policy(tmp_path, {**a, "date": "then"}, a, has_work=True, fix="f") == ({**a, "date": "then"},
                                                                                         "resume")
    assert resume_policy(tmp_path, a, b, has_work=False, fix="f") == (b, "replace")
    with pytest.raises(ConfigError, match=r"holds work made with a different config \(lr \(1 -> 2\)\); "
                                          r"refusing to mix results: use a new --out\."):
        resume_policy(tmp_path, a, b, has_work=True, fix="use a new --out")
    assert resume_policy(tmp_path, a, b, has_work=True, fix="f", on_change="restart") == (b, "restart")
    assert resume_policy(tmp_path, a, b, has_work=True, fix="f", accept=lambda old, new: {**new, "k": 1}) == (
        {**b, "k": 1}, "accept")


def test_policy_unusable_manifest_rebuilt_or_refused_with_the_recovery(tmp_path):
    m = tmp_path / "manifest.json"
    for text, why in (("", "it is empty"), ('{"config": {', "not valid JSON"), ("[1]", "a JSON list")):
        m.write_text(text)
        saved = read_manifest(m)
        assert isinstance(saved, Unreadable) and why in saved
    a = hashed({"lr": 1})
    kept, action = resume_policy(tmp_path, saved, a, has_work=True, fix="f", rebuild=lambda: None)
    assert action == "rebuild" and kept["config_hash"] == a["config_hash"] and "rebuilt" in kept
    with pytest.raises(ConfigError, match="does not match this command \\(sample 3 is foreign\\): re-run the "
                                          "command that made it"):
        resume_policy(tmp_path, saved, a, has_work=True, fix="f", rebuild=lambda: "sample 3 is foreign")
    with pytest.raises(ConfigError, match="holds finished work but no manifest; restore it, or f"):
        resume_policy(tmp_path, None, a, has_work=True, fix="f")


def test_rundir_writes_and_keeps_its_manifest(tmp_path):
    with RunDir(tmp_path / "r", what="t", fix="f") as rd:
        first = rd.resume({**hashed({"x": 1}), "date": "1"}, has_work=False)
        assert rd.action == "new" and read_manifest(rd.manifest_path) == first
    with RunDir(tmp_path / "r", what="t", fix="f") as rd:
        assert rd.resume({**hashed({"x": 1}), "date": "2"}, has_work=True)["date"] == "1"
        assert rd.action == "resume"


HOLD = """
import sys
from harness.rundir import RunDir
with RunDir(sys.argv[1], what="`harness eval`", fix="use a new --output-dir", pid_file="run.pid"):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_second_live_writer_is_refused_and_the_lock_frees_at_its_death(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # the event: the lock is taken
        with pytest.raises(ConfigError, match=rf"Another `harness eval` \(pid {holder.pid}\) is still writing "
                                              r".*use a new --output-dir\."):
            with RunDir(out, what="`harness eval`", fix="use a new --output-dir", pid_file="run.pid"):
                pass
    finally:
        holder.kill()  # SIGKILL: the kernel frees the flock
        holder.wait()
    with RunDir(out, what="`harness eval`", fix="f", pid_file="run.pid"):
        assert (out / "run.pid").read_text().strip() == str(os.getpid())


# --- every stage: the one refusal ---------------------------------------------------------------------


def test_eval_refuses_with_the_one_message(tmp_path, data_dir):
    from harness.eval import EvalConfig, build_manifest, evaluate, resolve_tasks

    out = tmp_path / "run"
    out.mkdir()
    old = EvalConfig(model="m", tasks=("gsm8k",), limit=1, data_dir=str(data_dir), output_dir=str(out))
    (out / "manifest.json").write_text(json.dumps(build_manifest(old, resolve_tasks(old))))
    (out / "samples.jsonl").write_text(json.dumps({"task": "gsm8k", "id": "0", "output": "x"}) + "\n")
    new = EvalConfig(model="m", tasks=("gsm8k",), limit=1, data_dir=str(data_dir), output_dir=str(out), seed=3)
    with pytest.raises(ConfigError) as e:
        evaluate(new, progress=False)
    assert ONE_REFUSAL in str(e.value) and "sampling.seed (0 -> 3)" in str(e.value)


def test_synth_sidecar_refuses_with_the_one_message(tmp_path):
    from synth.pipeline import load_sidecar

    side = tmp_path / "data.jsonl.work.jsonl"
    old = {"k": 4, "model": "t"}
    side.write_text(json.dumps({"header": True, **hashed(old)}) + "\n"
                    + json.dumps({"key": "u1", "config_hash": hashed(old)["config_hash"]}) + "\n")
    assert set(load_sidecar(side, old)[0]) == {"u1"}
    with pytest.raises(ConfigError) as e:
        load_sidecar(side, {"k": 2, "model": "t"})
    assert ONE_REFUSAL in str(e.value) and "k (4 -> 2)" in str(e.value) and f"delete {side}" in str(e.value)


def _loop_state(cfg):
    from harness.loop import _check_state, _state_dir

    with _state_dir(cfg) as rd:
        _check_state(cfg, rd)


def test_loop_refuses_with_the_one_message(tmp_path):
    from harness.loop import LoopConfig

    run = tmp_path / "loop"
    _loop_state(LoopConfig(model="m", tasks=("gsm8k",), run_dir=str(run)))
    (run / "round_00").mkdir()
    _loop_state(LoopConfig(model="m", tasks=("gsm8k",), run_dir=str(run)))  # same config: resumes
    with pytest.raises(ConfigError) as e:
        _loop_state(LoopConfig(model="m", tasks=("gsm8k",), run_dir=str(run), rounds=5))
    assert ONE_REFUSAL in str(e.value) and "rounds (" in str(e.value) and "new --run-dir" in str(e.value)
    assert not (run / "loop.lock").exists() and not (run / "loop.pid").exists()  # released when it ends


def test_a_second_loop_on_a_held_run_folder_is_refused_naming_the_first(tmp_path):
    """The loop holds its run folder for the whole run: a second loop started on it (another process, here
    a real subprocess holding the folder until told to exit) is refused with one line naming its pid."""
    from harness.loop import LoopConfig

    run = tmp_path / "loop"
    cfg = LoopConfig(model="m", tasks=("gsm8k",), run_dir=str(run))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom harness.loop import LoopConfig, _state_dir\n"
         f"cfg = LoopConfig(model='m', tasks=('gsm8k',), run_dir={str(run)!r})\n"
         "with _state_dir(cfg):\n    print('held', flush=True)\n    sys.stdin.readline()\n"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"  # the event
        with pytest.raises(ConfigError) as e:
            _loop_state(cfg)
        assert f"(pid {holder.pid})" in str(e.value) and "still writing" in str(e.value)
    finally:
        holder.communicate("\n", timeout=60)
    _loop_state(cfg)  # free again once the first one exits


def test_train_refuses_changed_options_and_data_with_the_one_message(tmp_path):
    from harness.io import file_sha256
    from train.config import build_config
    from train.rundir import CONFIG_FILE, prepare_run_dir

    data = tmp_path / "sft.jsonl"
    data.write_text('{"prompt": "q", "response": "a"}\n')
    out = tmp_path / "ckpt"
    (out / "stage1").mkdir(parents=True)
    cfg = build_config(model="m/x", data=[str(data)], output=str(out), overrides={"resume": True})
    (out / CONFIG_FILE).write_text(json.dumps({"config": cfg.to_dict(),
                                               "data": [{"sha256": file_sha256(data), "path": str(data)}]}))
    assert prepare_run_dir(cfg)["config"] == cfg.to_dict()
    lr = build_config(model="m/x", data=[str(data)], output=str(out), overrides={"resume": True, "lr": 0.5})
    with pytest.raises(ConfigError, match=ONE_REFUSAL.replace("(", r"\(") + r".*lr \("):
        prepare_run_dir(lr)
    data.write_text('{"prompt": "q2", "response": "a2"}\n')
    with pytest.raises(ConfigError) as e:
        prepare_run_dir(cfg)
    assert ONE_REFUSAL in str(e.value) and f"data_sha256.{data}" in str(e.value)
