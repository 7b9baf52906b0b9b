"""An evaluation in a child process that dies with the loop (``python -m harness.loop.child CONFIG.json``).

The loop runs engines that hold the GPU inside the evaluating process (vLLM) here, so that when the child has
exited, every byte of GPU memory is back for the next round's training. The config travels as JSON
(:func:`harness.options.write_json`); the child asks the kernel to kill it if the loop dies
(:func:`harness.io.set_parent_death_signal`, as training ranks do), and reports a library error as one line
that the loop raises again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

PARENT_ENV = "HARNESS_LOOP_PARENT_PID"


def evaluate_in_child(cfg: Any, *, progress: bool = True) -> dict:
    """:func:`harness.eval.evaluate` of ``cfg`` in a child process; its results.

    Raises:
        HarnessError: the error the child reported (one line), or its exit status when it crashed.
    """
    from harness.options import write_json

    with tempfile.TemporaryDirectory(prefix="harness-eval-") as tmp:
        cfg_file = write_json(cfg, Path(tmp) / "eval_config.json")
        result, error = Path(tmp) / "results.json", Path(tmp) / "error.txt"
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        proc = subprocess.Popen([sys.executable, "-m", "harness.loop.child", str(cfg_file), str(result), str(error),
                                 "1" if progress else "0"], env=env)
        try:
            rc = proc.wait()
        except BaseException:  # Ctrl-C or an error here: the evaluation must not outlive us
            proc.kill()
            proc.wait()
            raise
        if rc != 0:
            if error.is_file() and error.read_text().strip():
                raise HarnessError(error.read_text().strip())
            raise HarnessError(f"the evaluation of {cfg.model} into {cfg.output_dir} failed (exit {rc}); its output "
                               "is above. Fix it and re-run the same command to resume.")
        return json.loads(result.read_text())


def main(argv: list[str]) -> int:
    from harness.io import set_parent_death_signal

    set_parent_death_signal(signal.SIGKILL)
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):
        return 1  # the loop died before the request above took effect
    from harness.eval import EvalConfig, evaluate, hide_loading_bars
    from harness.io import atomic_write_json
    from harness.options import read_json

    cfg_file, result, error, progress = argv
    try:
        if progress == "0":
            hide_loading_bars()
        atomic_write_json(result, evaluate(read_json(EvalConfig, cfg_file), progress=progress == "1"))
    except HarnessError as e:
        Path(error).write_text(str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
