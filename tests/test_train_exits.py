"""How ``harness train`` ends when it cannot go on (issue 20 item 13): each way out is one ``Error:`` line
that says how to continue, and leaves no lock or pid file behind.

What: a directory given as ``--data`` is named a directory; one file given twice (also through a
symlink) is refused before anything is written; a run that fails inside its rank, and one that
finishes, leave no ``train.lock``, ``train.pid`` or ``losses.jsonl.lock`` (and a failed start leaves no
folder); a full disk during a checkpoint save (a real small tmpfs, else an ``ENOSPC`` raised inside the
save in a real subprocess) is one line naming the folder, "No space left on device" and the checkpoint a
``--resume`` continues from, and that resume finishes with every step logged once; Ctrl-C (SIGINT to the
process group, as a terminal sends it) is one line with the ``--resume`` hint, exit 130, no "Aborted!".
All runs are real ``harness train`` processes on the tiny checkpoint.

Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_train_exits.py`` (the training ones are ``slow``).
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

from harness.prompts import get_prompt

REPO = Path(__file__).resolve().parents[1]
LEFTOVERS = ("train.lock", "train.pid", "losses.jsonl.lock")


def write_sft(path: Path, n: int = 16) -> Path:
    t = get_prompt("qwen-boxed")
    path.write_text("".join(json.dumps({"prompt": t.render(f"What is {a}+{a}?").text,
                                        "response": t.format_response(f"{a}+{a}={2 * a}.", str(2 * a))}) + "\n"
                            for a in range(1, n + 1)))
    return path


def train_args(ckpt: Path, data: list[Path], out: Path, *extra: str, nproc: int = 1) -> list[str]:
    return ["train", "--model", str(ckpt), *[a for d in data for a in ("--data", str(d))], "--output", str(out),
            "--batch-size", "4", "--global-batch", str(4 * nproc), "--nproc", str(nproc), "--max-length", "512",
            "--no-progress", *extra]


def harness(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, **kw)


def one_error_line(r: subprocess.CompletedProcess, code: int = 1) -> str:
    assert r.returncode == code, r.stdout + r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr and "Aborted!" not in r.stderr, r.stderr[-3000:]
    return lines[0]


def losses(out: Path) -> list[int]:
    return [json.loads(ln)["step"] for ln in (out / "losses.jsonl").read_text().splitlines()]


# --- --data checks, before anything starts ------------------------------------------------------------


def test_data_directory_is_named_a_directory(tiny_checkpoint, tmp_path):
    """Before: "Expected a JSONL file at DIR, but it does not exist" (from the rank, after the model loaded)."""
    folder = tmp_path / "sft"
    folder.mkdir()
    write_sft(folder / "part1.jsonl")
    line = one_error_line(harness(train_args(tiny_checkpoint, [folder], tmp_path / "o")))
    assert f"--data {folder}: expected a JSONL file, found a directory holding part1.jsonl" in line
    assert "own --data" in line and "does not exist" not in line
    assert not (tmp_path / "o").exists()


def test_same_data_file_twice_is_refused(tiny_checkpoint, tmp_path):
    """Before: two stages trained on the same rows, exit 0, without a word. Paths are compared as files."""
    data = write_sft(tmp_path / "sft.jsonl")
    (tmp_path / "link.jsonl").symlink_to(data)
    (tmp_path / "sub").mkdir()
    for again in (data, tmp_path / "sub" / ".." / "sft.jsonl", tmp_path / "link.jsonl"):
        line = one_error_line(harness(train_args(tiny_checkpoint, [data, again], tmp_path / "o")))
        assert "the same file given twice" in line and "Pass it once" in line and str(data) in line
        assert not (tmp_path / "o").exists()


def test_check_data_names_every_problem_at_once(tmp_path):
    from harness.errors import ConfigError
    from train.rundir import check_data

    data = write_sft(tmp_path / "a.jsonl")
    with pytest.raises(ConfigError) as e:
        check_data([str(tmp_path), str(data), str(data), str(tmp_path / "none.jsonl")])
    msg = str(e.value)
    assert "found a directory holding a.jsonl" in msg and "same file given twice" in msg
    assert "none.jsonl: expected a JSONL file, found nothing there" in msg
    check_data([str(data), str(write_sft(tmp_path / "b.jsonl"))])  # two files: fine


# --- no lock or pid file left behind -----------------------------------------------------------------


@pytest.mark.slow
def test_failed_and_finished_runs_leave_no_lock_files(tiny_checkpoint, tmp_path):
    """Before: a failed run left train.lock, train.pid and losses.jsonl.lock (and so did a finished one)."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "Q: 1+1?\nAnswer:", "response": "I am not sure."}) + "\n")
    out = tmp_path / "o"
    line = one_error_line(harness(train_args(tiny_checkpoint, [bad], out, "--deepspeed", "none")))
    assert "no usable examples" in line
    assert not out.exists()  # the rank made the folder (to lock it) and wrote nothing there: removed
    r = harness(train_args(tiny_checkpoint, [write_sft(tmp_path / "sft.jsonl")], out, "--deepspeed", "none",
                           "--max-steps", "1"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert not [n for n in LEFTOVERS if (out / n).exists()]
    assert (out / "train_summary.json").is_file()


# --- a full disk during a checkpoint save --------------------------------------------------------------


def check_disk_full_line(line: str, out: Path) -> None:
    assert "could not write the checkpoint " + str(out / "stage1") in line and "No space left on device" in line
    assert "free there" in line and "rerun the same command with --resume" in line
    if "is intact" in line:  # the checkpoint it names is complete: a resume continues from it
        named = line.split("The previous checkpoint ")[1].split(" is intact")[0]
        assert (Path(named) / "trainer_state.json").is_file()
    else:
        assert "No checkpoint of this stage was complete yet" in line


@pytest.mark.slow
def test_disk_full_during_checkpoint_is_one_line_and_resume_finishes(tiny_checkpoint, tmp_path, small_disk):
    """Before: ~60 ``[rank0]`` traceback lines whose first cause is torch's "unexpected pos N vs M"."""
    data = write_sft(tmp_path / "sft.jsonl")
    mnt = small_disk(2500 * 1024)  # one ZeRO-2 checkpoint of the tiny model (about 1.1 MB) fits, not three
    out = mnt / "o"
    args = train_args(tiny_checkpoint, [data], out, "--deepspeed", "zero2", "--max-steps", "4", "--save-steps", "1")
    line = one_error_line(harness(args))
    check_disk_full_line(line, out)
    assert not [n for n in LEFTOVERS if (out / n).exists()]
    small_disk.grow(64 << 20)
    r = harness([*args, "--resume"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert losses(out) == [1, 2, 3, 4]  # each step once


NO_SPACE_ON_SECOND_CHECKPOINT = """
import errno
import torch

_save = torch.save


def save(obj, f, *a, **kw):
    if "checkpoint-2" in str(f):
        with open(f, "wb") as h:
            h.write(b"x" * 100)  # part of the file, as a full disk leaves it
        raise OSError(errno.ENOSPC, "No space left on device", str(f))
    return _save(obj, f, *a, **kw)


torch.save = save
"""


@pytest.mark.slow
def test_disk_full_during_checkpoint_patched(tiny_checkpoint, tmp_path):
    """The same where no tmpfs can be mounted: in the real training process, the save of the second
    checkpoint writes part of its file and fails with ENOSPC (a sitecustomize patches ``torch.save``)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_SPACE_ON_SECOND_CHECKPOINT)
    out = tmp_path / "o"
    args = train_args(tiny_checkpoint, [write_sft(tmp_path / "sft.jsonl")], out, "--deepspeed", "none",
                      "--max-steps", "3", "--save-steps", "1")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", *args], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    line = one_error_line(r)
    check_disk_full_line(line, out)
    assert f"The previous checkpoint {out / 'stage1' / 'checkpoint-1'} is intact" in line
    assert not [n for n in LEFTOVERS if (out / n).exists()]


# --- Ctrl-C ------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [1, 2])
def test_ctrl_c_is_one_line_with_the_resume_hint(tiny_checkpoint, tmp_path, nproc):
    """Before: "Aborted!" twice (the training child's click, then the launcher's) and no hint; the lock and
    pid files stayed. With 2 processes the ranks run under torchrun, whose own shutdown logs stay quiet."""
    out = tmp_path / "o"
    args = train_args(tiny_checkpoint, [write_sft(tmp_path / "sft.jsonl")], out, "--deepspeed", "none",
                      "--max-steps", "100000", "--epochs", "100000", "--save-steps", "2", nproc=nproc)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        # the event: five optimizer steps logged (a checkpoint every two)
        while not ((out / "losses.jsonl").is_file() and len((out / "losses.jsonl").read_text().splitlines()) >= 5):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    r = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    line = one_error_line(r, code=130)
    assert "death signal" not in r.stderr, r.stderr[-3000:]
    assert f"training {out} was interrupted (Ctrl-C); rerun the same command with --resume to continue from " in line
    named = line.split("continue from ")[1].rstrip(".")
    assert (Path(named) / "trainer_state.json").is_file()
    assert not [n for n in LEFTOVERS if (out / n).exists()]
