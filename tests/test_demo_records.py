"""The committed demo leaderboard (leaderboards/demo/, written by benchmarks/demo_transcript.py) was made by
the current answer engine: a record whose engine differs from ``ENGINE_VERSION`` means the README's
transcript and the demo's tables are stale (rerun ``python3 benchmarks/demo_transcript.py``).

Run: ``python3 -m pytest -q tests/test_demo_records.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.answers import ENGINE_VERSION

DEMO = Path(__file__).resolve().parents[1] / "leaderboards" / "demo"


def test_demo_records_come_from_the_current_engine():
    records = [json.loads(x) for x in (DEMO / "records.jsonl").read_text().splitlines() if x.strip()]
    assert records
    engines = {r["label"]: r["manifest"]["answer_engine"] for r in records}
    assert set(engines.values()) == {ENGINE_VERSION}, (
        f"leaderboards/demo was made with answer engine(s) {engines}, the code is at {ENGINE_VERSION}: "
        "run `python3 benchmarks/demo_transcript.py` and paste its transcript into the README")
    assert "benchmarks/demo_transcript.py" in (DEMO / "README.md").read_text()
    rounds = sorted(int(r["round"]) for r in records)
    assert rounds == list(range(len(rounds))) and len(rounds) >= 2
