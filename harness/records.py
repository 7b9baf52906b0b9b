"""Run records: the on-disk schema every later stage reads (reports, leaderboard, check, weak).

A run directory holds:

- ``manifest.json``: what was run (see :data:`MANIFEST_FIELDS`), including ``config_hash``.
- ``samples.jsonl``: append-only, one JSON object per generated sample (see :data:`SAMPLE_FIELDS`),
  keyed by ``(task, id, sample_idx)``. Written as it goes; a torn last line from a kill is ignored
  and the sample regenerated on resume.
- ``results.json``: the aggregated metrics (written by :mod:`harness.reports`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError
from harness.io import atomic_write_json, read_jsonl_tolerant

MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"
RESULTS = "results.json"

#: Fields of manifest.json.
MANIFEST_FIELDS = {
    "model": "checkpoint path, hub id or served model name",
    "backend": "hf | vllm | openai",
    "tasks": "{task name: task version}",
    "split": "data split evaluated (test)",
    "prompt": "{name, version}",
    "n_shot": "number of few-shot examples",
    "sampling": "{temperature, top_p, max_new_tokens, n, seed}",
    "limit": "problems per task (null: all)",
    "shard": "[i, n] or null",
    "answer_engine": "harness.answers ENGINE_VERSION",
    "harness_version": "package version",
    "commit": "git commit of the harness (with -dirty)",
    "date": "ISO date the run started",
    "config_hash": "hash of everything that can change generations",
}

#: Extra manifest fields written by harness.eval (additive; readers must not require them).
MANIFEST_EXTRA_FIELDS = {
    "answer_tasks": "{task name: answer rules family, 'math' or 'gsm8k'} (maj@k grouping)",
    "config": "the dict config_hash is computed from (resume/merge name the differing fields)",
    "merged_from": "run dirs combined by `harness merge` (merged runs only)",
}

#: Fields of one samples.jsonl line.
SAMPLE_FIELDS = {
    "task": "task name",
    "id": "problem id within the task",
    "sample_idx": "0..n-1 for --n samples",
    "subject": "MATH subject, 'GSM8K', or null",
    "level": "1-5 or null",
    "gold": "reference answer (string, or list of accepted alternatives)",
    "prompt": "the exact text sent to the backend",
    "output": "the model's completion",
    "extracted_strict": "answer extracted in strict mode, or null",
    "extracted_flexible": "answer extracted in flexible mode, or null",
    "correct_strict": "bool",
    "correct_flexible": "bool",
    "status_strict": "correct | wrong | no_answer | timeout",
    "status_flexible": "correct | wrong | no_answer | timeout",
    "prompt_tokens": "int",
    "tokens": "generated tokens (int)",
    "finish_reason": "stop | length",
    "truncated": "bool: generation hit max_new_tokens",
}

#: Extra sample fields written by harness.eval (additive; readers must not require them).
SAMPLE_EXTRA_FIELDS = {
    "gen_s": "this sample's share of its batch's generation wall time (seconds); tokens/s = sum tokens / sum gen_s",
}


def sample_key(s: dict) -> tuple[str, str, int]:
    return (str(s["task"]), str(s["id"]), int(s.get("sample_idx", 0)))


@dataclass
class Run:
    """A loaded run directory."""

    path: Path
    manifest: dict
    samples: list[dict] = field(default_factory=list)
    n_bad_lines: int = 0

    def tasks(self) -> list[str]:
        return sorted({s["task"] for s in self.samples})

    def by_key(self) -> dict[tuple[str, str, int], dict]:
        return {sample_key(s): s for s in self.samples}


def load_run(run_dir: str | os.PathLike, *, require_manifest: bool = True) -> Run:
    """Load a run directory; duplicate keys (should not happen) keep the first record.

    Raises:
        DataError: not a run directory (no manifest.json / samples.jsonl), or a record misses a key.
    """
    p = Path(run_dir)
    mpath = p / MANIFEST
    if not p.is_dir() or (require_manifest and not mpath.is_file()):
        raise DataError(
            f"Expected a run directory with {MANIFEST} and {SAMPLES} at {p}, found "
            f"{'nothing' if not p.exists() else 'no ' + MANIFEST}. Pass the --output-dir of a `harness eval` run."
        )
    try:
        manifest = json.loads(mpath.read_text()) if mpath.is_file() else {}
    except ValueError as e:
        raise DataError(f"{mpath} is not valid JSON ({e}). Re-run the evaluation into a new directory.") from None
    rows, n_bad = read_jsonl_tolerant(p / SAMPLES)
    seen: dict[tuple[str, str, int], dict] = {}
    for i, r in enumerate(rows):
        try:
            k = sample_key(r)
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{p / SAMPLES}: record {i + 1} lacks task/id/sample_idx; found keys {sorted(r)}.") from None
        seen.setdefault(k, r)
    return Run(path=p, manifest=manifest, samples=list(seen.values()), n_bad_lines=n_bad)


def write_manifest(run_dir: str | os.PathLike, manifest: dict) -> None:
    atomic_write_json(Path(run_dir) / MANIFEST, manifest)


def iter_scores(samples: Iterable[dict], mode: str = "strict") -> Iterable[tuple[tuple[str, str, int], float]]:
    for s in samples:
        yield sample_key(s), 1.0 if s.get(f"correct_{mode}") else 0.0
