"""The evaluation runner (harness.eval) and the `harness eval` command.

Runner logic (selection, records, grading, manifest, n > 1) is tested with a deterministic
in-process ToyBackend (the backend is not what is under test there); the end-to-end tests run the
real HFBackend on the tiny checkpoint, through click's CliRunner and a real subprocess, and the
bad-input cases check for exit code 1 and a single "Error:" line.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_eval.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.answers import grade
from harness.backends import Generation, SamplingParams
from harness.cli import main
from harness.errors import ConfigError
from harness.eval import EvalConfig, evaluate, hashed_config, parse_shard, resolve_tasks
from harness.io import config_hash, read_jsonl
from harness.records import MANIFEST_FIELDS, SAMPLE_EXTRA_FIELDS, SAMPLE_FIELDS, load_run

REPO = Path(__file__).resolve().parents[1]


class ToyBackend:
    """Deterministic fake: answers problems whose question contains "EVEN" with the boxed gold
    carried in the question, everything else with unparseable text. Counts calls."""

    name = "toy"
    has_chat_template = False

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts, params: SamplingParams):
        self.calls.append(len(prompts))
        out = []
        for p in prompts:
            text = p if isinstance(p, str) else p[-1]["content"]
            gens = []
            for j in range(params.n):
                if "EVEN" in text:
                    gold = text.split("GOLD=")[1].split(";")[0]
                    # with n > 1, sample 2 of each problem is wrong
                    ans = gold if j != 2 else gold + "1"
                    gens.append(Generation(f"So the answer is $\\boxed{{{ans}}}$.", 9, 40, "stop"))
                else:
                    gens.append(Generation("hmm " * 4, params.max_new_tokens, 40, "length"))
            out.append(gens)
        return out

    def close(self) -> None:
        pass


def write_custom_task(path: Path, n: int = 8) -> Path:
    subjects = ["Algebra", "Geometry"]
    rows = []
    for i in range(n):
        tag = "EVEN" if i % 2 == 0 else "ODD"
        rows.append({"id": f"p{i}", "question": f"Problem {i} {tag} GOLD={i * 3};", "answer": str(i * 3),
                     "subject": subjects[i % 2], "level": 1 + i % 5})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_runner_records_graded_samples(tmp_path):
    task = write_custom_task(tmp_path / "toy.jsonl")
    be = ToyBackend()
    cfg = EvalConfig(model="toy", tasks=(str(task),), concurrency=3, output_dir=str(tmp_path / "run"),
                     max_new_tokens=7)
    res = evaluate(cfg, backend=be, progress=False)
    assert be.calls == [3, 3, 2]  # a batch-only backend gets the window as generate calls
    rows = read_jsonl(tmp_path / "run" / "samples.jsonl")
    assert len(rows) == 8
    for r in rows:
        assert set(SAMPLE_FIELDS) | set(SAMPLE_EXTRA_FIELDS) <= set(r)
        for mode in ("strict", "flexible"):
            g = grade(r["output"], r["gold"], "math", mode)
            assert (r[f"correct_{mode}"], r[f"status_{mode}"], r[f"extracted_{mode}"]) == (
                g.correct, g.status, g.extracted)
        assert r["prompt"].startswith("Question: Problem ")
        assert r["truncated"] == (r["finish_reason"] == "length")
        assert r["unclosed_think"] is False
    even = [r for r in rows if int(r["id"][1:]) % 2 == 0]
    assert all(r["correct_strict"] for r in even)
    assert not any(r["correct_strict"] for r in rows if r not in even)
    t = res["tasks"]["toy"]
    assert t["strict"]["n"] == 8 and t["strict"]["correct"] == 4
    assert t["no_answer_rate"] == 0.5 and t["truncation_rate"] == 0.5
    assert set(t["by_subject"]) == {"Algebra", "Geometry"}
    assert set(t["by_level"]) == {"1", "2", "3", "4", "5"}
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["tasks"]["toy"]["strict"] == t["strict"]
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(MANIFEST_FIELDS) <= set(m)
    assert m["tasks"]["toy"].startswith("custom-") and m["prompt"] == {"name": "qwen-boxed", "version": "1"}


def test_n_samples_give_maj_and_pass_at_k(tmp_path):
    task = write_custom_task(tmp_path / "toy.jsonl", n=4)
    cfg = EvalConfig(model="toy", tasks=(str(task),), n=4, temperature=0.7, output_dir=str(tmp_path / "run"))
    res = evaluate(cfg, backend=ToyBackend(), progress=False)
    run = load_run(tmp_path / "run")
    assert sorted({s["sample_idx"] for s in run.samples}) == [0, 1, 2, 3]
    assert len(run.samples) == 16
    t = res["tasks"]["toy"]
    # even problems: 3 of 4 samples right (majority right); odd: none.
    assert t["maj@k"] == {"k": 4, "strict": 0.5, "flexible": 0.5}
    assert t["pass@k"]["strict"]["4"] == 0.5
    assert t["pass@k"]["strict"]["1"] == pytest.approx(0.5 * 3 / 4)


def test_limit_then_shard_partition(data_dir):
    base = EvalConfig(model="m", tasks=("math500", "gsm8k"), limit=7, data_dir=str(data_dir))
    full = {t.name: [p.id for p in t.problems] for t in resolve_tasks(base)}
    assert [len(v) for v in full.values()] == [7, 7]
    parts = [resolve_tasks(EvalConfig(model="m", tasks=("math500", "gsm8k"), limit=7, shard=(i, 3),
                                      data_dir=str(data_dir))) for i in range(3)]
    for k, name in enumerate(full):
        ids = [p.id for part in parts for p in part[k].problems]
        assert sorted(ids) == sorted(full[name]) and len(ids) == len(set(ids))
    assert [p.id for p in parts[1][0].problems] == full["math500"][1::3]


def test_config_hash_ignores_output_dir_batch_size_and_window(data_dir):
    a = EvalConfig(model="m", tasks=("gsm8k",), limit=2, data_dir=str(data_dir), output_dir="x", batch_size=1)
    b = EvalConfig(model="m", tasks=("gsm8k",), limit=2, data_dir=str(data_dir), output_dir="y", batch_size=9,
                   concurrency=3, request_timeout=5)
    c = EvalConfig(model="m", tasks=("gsm8k",), limit=2, data_dir=str(data_dir), seed=1)
    def h(cfg):
        return config_hash(hashed_config(cfg, resolve_tasks(cfg)))
    assert h(a) == h(b) != h(c)


@pytest.mark.parametrize("text,ok", [("0/2", (0, 2)), ("1/2", (1, 2)), ("2/2", None), ("x", None), ("1/0", None)])
def test_parse_shard(text, ok):
    if ok:
        assert parse_shard(text) == ok
    else:
        with pytest.raises(ConfigError):
            parse_shard(text)


def _single_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    err = [ln for ln in lines if ln.startswith("Error:")]
    assert len(err) == 1, result.stderr
    assert "Traceback" not in result.output
    return err[0]


@pytest.mark.parametrize("flag,value,word", [("--tasks", "math50", "math500"), ("--prompt", "qwen-boxd", "qwen-boxed"),
                                             ("--backend", "vlm", "vllm")])
def test_unknown_names_did_you_mean(tmp_path, data_dir, flag, value, word):
    args = ["eval", "--model", str(tmp_path), "--limit", "1", "--output-dir", str(tmp_path / "r"),
            "--data-dir", str(data_dir), "--no-progress", flag, value]
    err = _single_error(CliRunner().invoke(main, args))
    assert ("Did you mean" in err or "did you mean" in err) and repr(word) in err


def test_empty_and_broken_custom_tasks(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", "x", "--tasks", str(empty), "--output-dir",
                                                  str(tmp_path / "r")]))
    assert "no problems" in err
    # a broken line in a task whose earlier run is on disk: error names file:line, the run is untouched
    task = write_custom_task(tmp_path / "toy.jsonl", n=3)
    out = tmp_path / "run"
    evaluate(EvalConfig(model="toy", tasks=(str(task),), output_dir=str(out)), backend=ToyBackend(), progress=False)
    before = (out / "samples.jsonl").read_bytes()
    with task.open("a") as f:
        f.write('{"id": "p9", "question": "broken\n')
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", "toy", "--tasks", str(task), "--output-dir",
                                                  str(out)]))
    assert f"{task}:4" in err
    assert (out / "samples.jsonl").read_bytes() == before


@pytest.mark.slow
def test_not_a_checkpoint_dir(tmp_path, data_dir):
    bogus = tmp_path / "notackpt"
    bogus.mkdir()
    (bogus / "README.txt").write_text("hi")
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", str(bogus), "--tasks", "gsm8k", "--limit", "2",
                                                  "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "r")]))
    assert "config.json" in err
    assert not (tmp_path / "r" / "samples.jsonl").exists()


@pytest.mark.slow
def test_unreachable_server(tmp_path, data_dir):
    pytest.importorskip("harness.backends.openai")
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    err = _single_error(CliRunner().invoke(main, [
        "eval", "--model", "tiny", "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1",
        "--tasks", "gsm8k", "--limit", "1", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "r"),
        "--no-progress"]))
    assert str(port) in err


def _math_subset(data_dir: Path, path: Path) -> Path:
    """One MATH test problem per subject, chosen so levels 1-5 all appear."""
    rows, seen_subj, seen_lvl = [], set(), set()
    for line in (data_dir / "math" / "test.jsonl").open():
        r = json.loads(line)
        if r["subject"] in seen_subj:
            continue
        if r["level"] in seen_lvl and len(seen_lvl) < 5:
            continue
        rows.append(r)
        seen_subj.add(r["subject"])
        seen_lvl.add(r["level"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_end_to_end_hf_cli(tmp_path, data_dir, tiny_checkpoint):
    subset = _math_subset(data_dir, tmp_path / "mathsub.jsonl")
    out = tmp_path / "run"
    res = CliRunner().invoke(main, [
        "eval", "--model", str(tiny_checkpoint), "--tasks", f"gsm8k,{subset}", "--limit", "7", "--max-new-tokens",
        "8", "--batch-size", "4", "--field", "question=problem", "--field", "id=unique_id", "--data-dir",
        str(data_dir), "--output-dir", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    sub = results["tasks"]["mathsub"]
    assert sub["strict"]["n"] == 7 and results["tasks"]["gsm8k"]["strict"]["n"] == 7
    from harness.data import MATH_SUBJECTS

    assert set(sub["by_subject"]) == set(MATH_SUBJECTS)
    assert set(sub["by_level"]) == {"1", "2", "3", "4", "5"}
    for s in MATH_SUBJECTS:
        assert s in res.stdout
    for lv in range(1, 6):
        assert f"Level {lv}" in res.stdout
    rows = read_jsonl(out / "samples.jsonl")
    assert {r["id"] for r in rows if r["task"] == "mathsub"} == {json.loads(x)["unique_id"] for x in subset.open()}
    assert all(r["tokens"] <= 8 and isinstance(r["output"], str) for r in rows)
    assert results["tasks"]["gsm8k"]["tokens_per_s"] > 0
    m = json.loads((out / "manifest.json").read_text())
    assert set(MANIFEST_FIELDS) <= set(m) and m["backend"] == "hf" and m["sampling"]["max_new_tokens"] == 8


@pytest.mark.slow
def test_end_to_end_subprocess(tmp_path, data_dir, tiny_checkpoint):
    out = tmp_path / "run"
    env = {**os.environ, "HARNESS_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "eval", "--model", str(tiny_checkpoint),
           "--tasks", "math500", "--limit", "3", "--max-new-tokens", "6", "--output-dir", str(out)]
    first = [*cmd, "--no-progress", "--limit", "2"]  # the last --limit counts
    p = subprocess.run(first, check=False, capture_output=True, text=True,
                       env=env, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "it/s" not in p.stderr and "Loading weights" not in p.stderr, p.stderr  # --no-progress: no bar at all
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Loading weights" in p.stderr and "sample/s" in p.stderr  # the bars --no-progress hides
    assert "strict % [95% CI]" in p.stdout and "math500" in p.stdout
    assert len(read_jsonl(out / "samples.jsonl")) == 3
    # a second run (in-process) resumes the finished run: nothing to generate, same samples
    res = CliRunner().invoke(main, cmd[3:] + ["--data-dir", str(data_dir)])
    assert res.exit_code == 0 and "generated 0 samples" in res.stdout
    assert len(read_jsonl(out / "samples.jsonl")) == 3


@pytest.fixture()
def served_tiny(tiny_checkpoint, harness_serve):
    """``harness serve`` over the tiny checkpoint on a free loopback port (real subprocess)."""
    with harness_serve(tiny_checkpoint, "--batch-size", "4") as url:
        yield url


@pytest.mark.slow
def test_end_to_end_openai_via_harness_serve(tmp_path, data_dir, tiny_checkpoint, served_tiny):
    pytest.importorskip("harness.backends.openai")
    common = ["--model", str(tiny_checkpoint), "--tasks", "math500,gsm8k", "--limit", "3", "--max-new-tokens", "8",
              "--data-dir", str(data_dir), "--no-progress"]
    res = CliRunner().invoke(main, ["eval", *common, "--backend", "openai", "--base-url", served_tiny,
                                    "--output-dir", str(tmp_path / "api")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["eval", *common, "--output-dir", str(tmp_path / "hf")])
    assert res.exit_code == 0, res.output
    api, hf = load_run(tmp_path / "api"), load_run(tmp_path / "hf")
    assert api.manifest["backend"] == "openai" and len(api.samples) == 6
    fields = ("output", "correct_strict", "correct_flexible", "tokens", "finish_reason")
    assert {k: tuple(s[f] for f in fields) for k, s in api.by_key().items()} == {
        k: tuple(s[f] for f in fields) for k, s in hf.by_key().items()}


@pytest.mark.slow
def test_chat_template_prompt_recorded(tmp_path, data_dir, tiny_chat_checkpoint):
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["eval", "--model", str(tiny_chat_checkpoint), "--tasks", "gsm8k", "--limit", "2",
                                    "--max-new-tokens", "4", "--data-dir", str(data_dir), "--output-dir", str(out),
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    rows = read_jsonl(out / "samples.jsonl")
    # auto chat: the model has a template, so the recorded prompt is the templated text sent
    assert all(r["prompt"].startswith("<s>system: Please reason step by step") for r in rows)
    assert all(r["prompt"].endswith("<s>assistant: ") for r in rows)
    assert json.loads((out / "manifest.json").read_text())["config"]["chat"] is None


def test_concurrent_writer_refused_and_default_dir(tmp_path):
    from filelock import FileLock

    from harness.eval import default_output_dir

    task = write_custom_task(tmp_path / "toy.jsonl", n=2)
    out = tmp_path / "run"
    out.mkdir()
    with FileLock(str(out / "samples.jsonl.lock")), pytest.raises(ConfigError, match="Another `harness eval` is writing"):
        evaluate(EvalConfig(model="toy", tasks=(str(task),), output_dir=str(out)), backend=ToyBackend(),
                 progress=False)
    assert not (out / "samples.jsonl").exists()
    d = default_output_dir("/ckpts/my-model/")
    assert d.startswith(os.path.join("runs", "my-model-")) and len(d.rsplit("-", 1)[1]) == 8
    # two checkpoints both named ckpt (e.g. two loop rounds) never share a default folder
    (tmp_path / "round_01" / "ckpt").mkdir(parents=True)
    (tmp_path / "round_02" / "ckpt").mkdir(parents=True)
    a, b = (default_output_dir(str(tmp_path / r / "ckpt")) for r in ("round_01", "round_02"))
    assert a != b and os.path.basename(a).startswith("ckpt-") and os.path.basename(b).startswith("ckpt-")
    assert a == default_output_dir(str(tmp_path / "round_01" / "ckpt") + "/")  # same checkpoint, same folder
    assert default_output_dir("m", "hf") != default_output_dir("m", "vllm")


@pytest.mark.slow
def test_backend_arg_reaches_backend(tmp_path, data_dir, tiny_checkpoint):
    # an HF constructor argument passed through: a bad dtype name is rejected by HFBackend itself
    res = CliRunner().invoke(main, ["eval", "--model", str(tiny_checkpoint), "--tasks", "gsm8k", "--limit", "1",
                                    "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "r"),
                                    "--backend-arg", "dtype=float17"])
    err = _single_error(res)
    assert "float17" in err and "float16" in err


def test_bad_fewshot_and_shadowing_task_file_fail_early(tmp_path, data_dir):
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", "x", "--tasks", "gsm8k", "--num-fewshot", "99",
                                                  "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "r")]))
    assert "--num-fewshot" in err
    shadow = write_custom_task(tmp_path / "gsm8k.jsonl", n=2)
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", "x", "--tasks", str(shadow), "--output-dir",
                                                  str(tmp_path / "r")]))
    assert "shadow the built-in task 'gsm8k'" in err
    assert not (tmp_path / "r").exists()


# --- the streaming runner: no batch barrier, completion order, identical results ------------------


class StreamingToy(ToyBackend):
    """ToyBackend's answers through its own ``stream()``: worker threads keep ``window`` requests in flight
    and results are yielded in completion order. The first request is held until ``hold_for`` samples of
    later requests are on disk, so it finishes last (a runner with a batch barrier would never get there)."""

    def __init__(self, hold_for: int = 0, samples_path: Path | None = None, fail_after: int | None = None):
        super().__init__()
        self.hold_for, self.samples_path, self.fail_after = hold_for, samples_path, fail_after
        self.released = None  # True: the held request saw the others recorded while it was in flight
        self.max_in_flight = 0
        self.prompts: list[str] = []

    def _lines_on_disk(self) -> int:
        p = self.samples_path
        return p.read_bytes().count(b"\n") if p is not None and p.exists() else 0

    def stream(self, requests, *, window):
        import queue
        import threading
        import time

        done: queue.Queue = queue.Queue()
        lock = threading.Lock()
        in_flight = [0]

        def work(i, req):
            if i == 0 and self.hold_for:
                deadline = time.monotonic() + 60
                while self._lines_on_disk() < self.hold_for and time.monotonic() < deadline:
                    threading.Event().wait(0.01)
                self.released = self._lines_on_disk() >= self.hold_for
            done.put((req, self.generate([req.prompt], req.params)[0]))

        it = iter(requests)
        issued = yielded = 0
        more = True
        while True:
            while more and issued - yielded < window:
                req = next(it, None)
                if req is None:
                    more = False
                    break
                self.prompts.append(req.prompt)
                with lock:
                    in_flight[0] += 1
                    self.max_in_flight = max(self.max_in_flight, in_flight[0])
                threading.Thread(target=work, args=(issued, req), daemon=True).start()
                issued += 1
            if yielded == issued:
                return
            req, gens = done.get(timeout=60)
            with lock:
                in_flight[0] -= 1
            if self.fail_after is not None and yielded >= self.fail_after:
                from harness.errors import BackendError

                raise BackendError("the toy server went away")
            yielded += 1
            yield req, gens


def _verdicts(run_dir: Path) -> dict:
    return {k: (s["output"], s["correct_strict"], s["correct_flexible"], s["status_strict"], s["prompt"])
            for k, s in load_run(run_dir).by_key().items()}


def test_streaming_records_as_requests_finish_and_equals_one_at_a_time(tmp_path):
    task = write_custom_task(tmp_path / "toy.jsonl", n=24)
    one = tmp_path / "one"
    evaluate(EvalConfig(model="toy", tasks=(str(task),), concurrency=1, output_dir=str(one)), backend=ToyBackend(),
             progress=False)
    out = tmp_path / "streamed"
    be = StreamingToy(hold_for=12, samples_path=out / "samples.jsonl")
    res = evaluate(EvalConfig(model="toy", tasks=(str(task),), concurrency=8, output_dir=str(out)), backend=be,
                   progress=False)
    assert be.released is True  # 12 later samples were graded and on disk while the first was in flight
    assert be.max_in_flight == 8
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 24 and lines[-1]["id"] == "p0"  # completion order, not submission order
    assert _verdicts(out) == _verdicts(one)  # same samples, same verdicts as one request at a time
    assert res["tasks"]["toy"]["strict"] == json.loads((one / "results.json").read_text())["tasks"]["toy"]["strict"]
    assert res["generation"]["samples"] == 24 and res["generation"]["seconds"] > 0


def test_backend_failure_keeps_finished_samples_and_resume_adds_only_the_rest(tmp_path):
    from harness.errors import BackendError

    task = write_custom_task(tmp_path / "toy.jsonl", n=20)
    out = tmp_path / "run"
    cfg = EvalConfig(model="toy", tasks=(str(task),), concurrency=4, output_dir=str(out))
    with pytest.raises(BackendError, match="went away"):
        evaluate(cfg, backend=StreamingToy(fail_after=7), progress=False)
    kept = (out / "samples.jsonl").read_bytes()
    assert kept.count(b"\n") == 7  # every result yielded before the failure was written
    again = StreamingToy()
    res = evaluate(cfg, backend=again, progress=False)
    assert len(again.prompts) == 13 and res["generation"]["samples"] == 13
    assert (out / "samples.jsonl").read_bytes().startswith(kept)
    ref = tmp_path / "ref"
    evaluate(EvalConfig(model="toy", tasks=(str(task),), output_dir=str(ref)), backend=ToyBackend(), progress=False)
    assert _verdicts(out) == _verdicts(ref)


def test_extending_limit_reuses_finished_samples(tmp_path):
    task = write_custom_task(tmp_path / "toy.jsonl", n=10)
    out = tmp_path / "run"
    evaluate(EvalConfig(model="toy", tasks=(str(task),), limit=4, output_dir=str(out)), backend=ToyBackend(),
             progress=False)
    before = (out / "samples.jsonl").read_bytes()
    be = StreamingToy()
    res = evaluate(EvalConfig(model="toy", tasks=(str(task),), limit=7, output_dir=str(out)), backend=be,
                   progress=False)
    assert len(be.prompts) == 3 and res["tasks"]["toy"]["strict"]["n"] == 7
    assert (out / "samples.jsonl").read_bytes().startswith(before)
    m = json.loads((out / "manifest.json").read_text())
    assert m["limit"] == 7 and m["config"]["limit"] == 7
    # no --limit: every problem; then a smaller limit is refused (it would hide finished samples)
    evaluate(EvalConfig(model="toy", tasks=(str(task),), output_dir=str(out)), backend=ToyBackend(), progress=False)
    assert len(load_run(out).samples) == 10
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", "toy", "--tasks", str(task), "--limit", "5",
                                                  "--output-dir", str(out)]))
    assert "every problem" in err and "drop --limit" in err and "new --output-dir" in err
    # a changed sampling setting is still refused, naming the field
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", "toy", "--tasks", str(task), "--seed", "2",
                                                  "--output-dir", str(out)]))
    assert "sampling.seed (0 -> 2)" in err


def test_openai_without_base_url_is_one_error_line(tmp_path, data_dir):
    err = _single_error(CliRunner().invoke(main, ["eval", "--model", "qwen", "--backend", "openai", "--tasks", "gsm8k",
                                                  "--limit", "1", "--data-dir", str(data_dir), "--output-dir",
                                                  str(tmp_path / "r")]))
    assert "--backend openai needs --base-url" in err and "http://127.0.0.1:8000/v1" in err
    assert not (tmp_path / "r").exists()


def test_flags_come_from_the_config_dataclass():
    import dataclasses

    from harness.cli.eval import eval_cmd
    from harness.options import from_mapping

    opts = {o.name: o for o in eval_cmd.params}
    for f in dataclasses.fields(EvalConfig):
        assert f.name in opts, f"EvalConfig.{f.name} has no flag"
        if f.name != "data_dir":  # --data-dir is the flag shared by every command
            assert f.metadata["help"].split(" (")[0][:20] in (opts[f.name].help or "")
    cfg = from_mapping(EvalConfig, {"model": "m", "backend": "openai", "tasks": ("gsm8k,math500", "math"),
                                         "base_url": ("http://a:1/v1,http://b:2/v1", "http://c:3/v1"),
                                         "concurrency": 64, "shard": "1/4", "fields": ("question=problem",),
                                         "backend_kwargs": ("max-retries=5", "endpoint=chat")})
    assert cfg.tasks == ("gsm8k", "math500", "math") and cfg.shard == (1, 4) and cfg.window == 64
    assert cfg.base_url == ("http://a:1/v1", "http://b:2/v1", "http://c:3/v1")
    assert cfg.fields == (("question", "problem"),) and cfg.backend_kwargs == (("max_retries", 5), ("endpoint", "chat"))
    assert EvalConfig(model="m").window == 256 and EvalConfig(model="m", backend="vllm").window == 4096
    with pytest.raises(ConfigError, match="concurrency: expected an integer >= 1 or null, found 0"):
        EvalConfig(model="m", concurrency=0)
