"""Progress output in logs: when stderr is not a terminal (a log file, CI, a captured subprocess) a bar
prints whole lines, at most one per ``LOG_INTERVAL_S`` plus the last, instead of hundreds of ``\\r``
redraws (the demo loop's captured log had 785). A real subprocess writes to a pipe; its stderr is read.

Run: ``python3 -m pytest -q tests/test_progress.py``
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
from harness.progress import StreamProgress, bar
for _ in bar(iterable=range(3000), desc="work", unit="row"):
    pass
with StreamProgress(total=2000, unit="sample", desc="eval") as b:
    for _ in range(2000):
        b.issued(1)
        b.finished(1, tokens=3)
"""


def test_bars_print_lines_not_redraws_when_stderr_is_a_pipe():
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    lines = r.stderr.splitlines()
    work = [x for x in lines if x.startswith("work")]
    ev = [x for x in lines if x.startswith("eval")]
    # the first line, the last (closing) line, and none between (the run takes far less than the interval)
    assert 1 <= len(work) <= 3 and "3000/3000" in work[-1]
    assert 1 <= len(ev) <= 3 and "2000/2000" in ev[-1] and "tok/s" in ev[-1]
