"""Run records: the on-disk schema every later stage reads (reports, leaderboard, check, weak).

A run directory holds:

- ``manifest.json``: what was run (see :data:`MANIFEST_FIELDS`), including ``config_hash``.
- ``samples.jsonl``: append-only, one JSON object per generated sample (see :data:`SAMPLE_FIELDS`),
  keyed by ``(task, id, sample_idx)``. Written as it goes; a torn last line from a kill is ignored
  and the sample regenerated on resume.
- ``results.json``: the aggregated metrics (written by :mod:`harness.reports`).

One line of ``samples.jsonl`` is one :class:`Sample`: parsed by :meth:`Sample.from_dict`, written by
:meth:`Sample.to_dict`; readers score it with :meth:`Sample.score` (``mode`` strict, flexible, tol_strict,
tol_flexible, judged) and group it by :attr:`Sample.problem` / :attr:`Sample.cell`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from harness.errors import DataError
from harness.io import atomic_write_json, read_jsonl

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
    "subject": "the task's cell label (MATH subject, 'GSM8K', OlympiadBench subfield, Minerva course, exam) or null",
    "level": "1-5 or null",
    "gold": "reference answer (string, or list of accepted alternatives)",
    "prompt": "the exact text sent to the backend",
    "output": "the model's completion",
    "extracted_strict": "answer extracted in strict mode, or null",
    "extracted_flexible": "answer extracted in flexible mode, or null",
    "correct_strict": "bool",
    "correct_flexible": "bool",
    "status_strict": "correct | wrong | no_answer | timeout | error",
    "status_flexible": "correct | wrong | no_answer | timeout | error",
    "prompt_tokens": "int",
    "tokens": "generated tokens (int)",
    "finish_reason": "stop | length",
    "truncated": "bool: generation hit max_new_tokens",
}

#: Extra sample fields written by harness.eval (additive; readers must not require them).
SAMPLE_EXTRA_FIELDS = {
    "gen_s": "this sample's share of its batch's generation wall time (seconds); tokens/s = sum tokens / sum gen_s",
}

#: Optional sample fields (absent in older runs, and ``correct_tol_*`` only for tasks with a tolerance);
#: readers treat a missing one as "not recorded", never as False.
SAMPLE_OPTIONAL_FIELDS = {
    "unclosed_think": "bool: the output opened a <think> block it never closed",
    "correct_tol_strict": "bool: strict verdict under the task's numeric tolerance (tasks with rel_tol only)",
    "correct_tol_flexible": "bool: flexible verdict under the task's numeric tolerance (tasks with rel_tol only)",
    "judge_verdict": "correct | incorrect | undecided: the LLM judge's verdict (only samples the rules could not "
                     "decide, in runs with a judge; see harness.judge)",
    "judge_reason": "why the rules could not decide: no_answer | timeout | error | prose_gold | prose_answer | unparsed",
    "judge_model": "the judge model that gave judge_verdict",
    "judge_prompt": "the judge prompt version (harness.judge.PROMPT_VERSION)",
    "judge_requests": "int: judge replies received for this sample (a reply without a clear verdict is asked again)",
    "judge_prompt_tokens": "int: prompt tokens of those requests",
    "judge_tokens": "int: completion tokens of those requests",
    "replaced_chars": "int: characters of the reply no file can hold (lone surrogates) replaced by U+FFFD",
    "grading_backstop": "true when a grading of this sample hit the grader's CPU-time backstop (status timeout; "
                        "never expected: written only when it happened)",
}

#: Grading modes a :class:`Sample` can be scored in. ``tol_*`` exist only for tasks with a tolerance.
MODES: tuple[str, ...] = ("strict", "flexible")
TOL_MODES: tuple[str, ...] = ("tol_strict", "tol_flexible")
ALL_MODES: tuple[str, ...] = MODES + TOL_MODES
Mode = Literal["strict", "flexible", "tol_strict", "tol_flexible"]
#: Every status a grade can have; ``error`` is an internal exception while grading (never "wrong").
STATUSES: tuple[str, ...] = ("correct", "wrong", "no_answer", "timeout", "error")
#: The one place a mode names its samples.jsonl verdict key.
VERDICT_FIELD = {"strict": "correct_strict", "flexible": "correct_flexible",
                 "tol_strict": "correct_tol_strict", "tol_flexible": "correct_tol_flexible"}
#: The judged column: the strict verdict where the rules decided, the judge's verdict where they did not
#: (``undecided`` is not correct). Scored by :meth:`Sample.correct`; never one of :data:`MODES`.
JUDGED = "judged"
#: What a judged sample's ``judge_verdict`` can be (``undecided``: no clear verdict in ``judge_tries`` replies).
JUDGE_VERDICTS: tuple[str, ...] = ("correct", "incorrect", "undecided")

Key = tuple[str, str, int]
Cell = tuple[str, str | None, int | None]


def _opt_bool(v: Any) -> bool | None:
    return None if v is None else bool(v)


def _numeric_ok(v: Any, key: str) -> bool:
    """Whether ``v`` reads as the number field ``key`` of a sample holds (for error messages)."""
    try:
        if v is not None and v != "":
            float(v) if key == "gen_s" else int(v)
    except (TypeError, ValueError):
        return False
    return True


def _opt_int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Sample:
    """One graded sample: a line of ``samples.jsonl`` (:data:`SAMPLE_FIELDS`, :data:`SAMPLE_EXTRA_FIELDS`).

    Read with :meth:`from_dict`, written with :meth:`to_dict` (the same keys as before; optional keys
    that were absent stay absent, unknown keys are kept). Every metric reads a verdict through
    :meth:`correct` / :meth:`score` / :meth:`status`, never by building a key name.

    Examples:
        >>> s = Sample.from_dict({"task": "gsm8k", "id": 3, "correct_strict": True, "status_strict": "correct"})
        >>> s.key, s.score("strict"), s.score("flexible"), s.status("flexible")
        (('gsm8k', '3', 0), 1.0, 0.0, None)
    """

    task: str
    id: str
    sample_idx: int = 0
    subject: str | None = None
    level: int | None = None
    gold: Any = None
    prompt: Any = None
    output: str | None = None
    extracted_strict: str | None = None
    extracted_flexible: str | None = None
    correct_strict: bool = False
    correct_flexible: bool = False
    status_strict: str | None = None
    status_flexible: str | None = None
    prompt_tokens: int | None = None
    tokens: int | None = None
    finish_reason: str | None = None
    truncated: bool | None = None
    gen_s: float | None = None
    unclosed_think: bool | None = None
    correct_tol_strict: bool | None = None
    correct_tol_flexible: bool | None = None
    judge_verdict: str | None = None
    judge_reason: str | None = None
    judge_model: str | None = None
    judge_prompt: str | None = None
    judge_requests: int | None = None
    judge_prompt_tokens: int | None = None
    judge_tokens: int | None = None
    replaced_chars: int | None = None
    grading_backstop: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    # ---- identity
    @property
    def key(self) -> Key:
        """``(task, id, sample_idx)``: what resume, merge and paired comparisons match on."""
        return (self.task, self.id, self.sample_idx)

    @property
    def problem(self) -> tuple[str, str]:
        """``(task, id)``: the statistical unit (samples of one problem are not independent)."""
        return (self.task, self.id)

    @property
    def cell(self) -> Cell:
        """``(task, subject, level)``: the unit of per-cell tables, weak-cell selection and the loop."""
        return (self.task, self.subject, self.level)

    # ---- verdicts
    def correct(self, mode: str = "strict") -> bool:
        """The verdict in ``mode``. ``tol_*`` falls back to the exact verdict where the sample has no
        tolerant one (a tolerance only adds equalities, so exact-correct is tolerant-correct); ``judged``
        is the judge's verdict where there is one, else the strict verdict.

        Raises:
            ValueError: an unknown mode.
        """
        if mode == JUDGED:
            return self.correct_strict if self.judge_verdict is None else self.judge_verdict == "correct"
        if mode not in VERDICT_FIELD:
            raise ValueError(f"Expected a grading mode in {tuple(VERDICT_FIELD)}, found {mode!r}.")
        v = getattr(self, VERDICT_FIELD[mode])
        return bool(getattr(self, VERDICT_FIELD[mode.removeprefix("tol_")]) if v is None else v)

    def score(self, mode: str = "strict") -> float:
        """1.0 when correct in ``mode``, else 0.0."""
        return 1.0 if self.correct(mode) else 0.0

    def has(self, mode: str) -> bool:
        """Whether the record carries its own verdict for ``mode``: a ``correct_<mode>`` key in the line
        read (always, for a Sample built in code), and for ``tol_*`` a tolerant verdict."""
        name = VERDICT_FIELD[mode]
        if mode in TOL_MODES:
            return getattr(self, name) is not None
        return not self.present or name in self.present

    def status(self, mode: str = "strict") -> str | None:
        """The status in ``mode`` (``tol_*`` share the exact mode's extraction and status, except that a
        tolerant-correct answer is ``correct``)."""
        base = mode.removeprefix("tol_")
        st = self.status_strict if base == "strict" else self.status_flexible
        if mode in TOL_MODES and self.correct(mode):
            return "correct"
        return st

    def extracted(self, mode: str = "strict") -> str | None:
        """The answer extracted in ``mode`` (``tol_*`` use the exact mode's extraction)."""
        return self.extracted_strict if mode.removeprefix("tol_") == "strict" else self.extracted_flexible

    # ---- I/O
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Sample:
        """Parse one samples.jsonl object (older records without the optional keys included).

        Raises:
            KeyError: no ``task`` or ``id``. ValueError / TypeError: a ``sample_idx`` that is not an int.
        """
        known = {f.name for f in fields(cls)} - {"extra", "present"}
        return cls(
            task=str(d["task"]), id=str(d["id"]), sample_idx=int(d.get("sample_idx", 0) or 0),
            subject=None if d.get("subject") in (None, "") else str(d["subject"]),
            level=_opt_int(d.get("level")), gold=d.get("gold"), prompt=d.get("prompt"), output=d.get("output"),
            extracted_strict=d.get("extracted_strict"), extracted_flexible=d.get("extracted_flexible"),
            correct_strict=bool(d.get("correct_strict")), correct_flexible=bool(d.get("correct_flexible")),
            status_strict=d.get("status_strict"), status_flexible=d.get("status_flexible"),
            prompt_tokens=_opt_int(d.get("prompt_tokens")), tokens=_opt_int(d.get("tokens")),
            finish_reason=d.get("finish_reason"), truncated=_opt_bool(d.get("truncated")),
            gen_s=None if d.get("gen_s") is None else float(d["gen_s"]),
            unclosed_think=_opt_bool(d.get("unclosed_think")),
            correct_tol_strict=_opt_bool(d.get("correct_tol_strict")),
            correct_tol_flexible=_opt_bool(d.get("correct_tol_flexible")),
            judge_verdict=d.get("judge_verdict"), judge_reason=d.get("judge_reason"),
            judge_model=d.get("judge_model"), judge_prompt=d.get("judge_prompt"),
            judge_requests=_opt_int(d.get("judge_requests")),
            judge_prompt_tokens=_opt_int(d.get("judge_prompt_tokens")), judge_tokens=_opt_int(d.get("judge_tokens")),
            replaced_chars=_opt_int(d.get("replaced_chars")),
            grading_backstop=_opt_bool(d.get("grading_backstop")),
            extra={k: v for k, v in d.items() if k not in known},
            present=frozenset(k for k in d if k in known),
        )

    def to_dict(self) -> dict[str, Any]:
        """The samples.jsonl object: every :data:`SAMPLE_FIELDS` key, and each optional key only when set
        (or when it was present in the record read). Unknown keys read by :meth:`from_dict` are kept."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("extra", "present"):
                continue
            v = getattr(self, f.name)
            if f.name in SAMPLE_FIELDS or v is not None or f.name in self.present:
                out[f.name] = v
        out.update(self.extra)
        return out


def sample_key(s: Mapping) -> Key:
    """``(task, id, sample_idx)`` of a raw samples.jsonl record (a :class:`Sample` has ``.key``)."""
    return (str(s["task"]), str(s["id"]), int(s.get("sample_idx", 0)))


@dataclass
class Run:
    """A loaded run directory.

    ``samples`` are the raw JSON objects as read (kept verbatim: resume and merge rewrite them
    byte for byte); ``records`` are the same lines as typed :class:`Sample` s, which every metric reads.
    """

    path: Path
    manifest: dict
    samples: list[dict] = field(default_factory=list)
    n_bad_lines: int = 0
    records: list[Sample] = field(default_factory=list)

    def tasks(self) -> list[str]:
        return sorted({s.task for s in self.records})

    def by_key(self) -> dict[Key, dict]:
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
        if require_manifest:
            raise DataError(f"{mpath} is not valid JSON ({e}). Re-run the same `harness eval` command into this "
                            "directory: it rebuilds the manifest when the samples match its config.") from None
        manifest = {}  # the caller (a resuming eval) decides what to do with it
    bad: list = []
    linenos: list[int] = []
    rows = read_jsonl(p / SAMPLES, skip_bad=True, bad=bad, linenos=linenos) if (p / SAMPLES).exists() else []
    n_bad = len(bad)
    seen: dict[Key, tuple[dict, Sample]] = {}
    for r, lineno in zip(rows, linenos):
        try:
            rec = Sample.from_dict(r)
        except KeyError:
            raise DataError(f"{p / SAMPLES}:{lineno}: expected a sample with task and id, found keys {sorted(r)}; "
                            "fix or delete that line (a deleted sample is generated again).") from None
        except (TypeError, ValueError):
            bad_field = next((k for k in ("sample_idx", "level", "tokens", "prompt_tokens", "gen_s")
                              if not _numeric_ok(r.get(k), k)), "a field")
            raise DataError(f"{p / SAMPLES}:{lineno}: expected a number for {bad_field}, found "
                            f"{r.get(bad_field)!r}; fix or delete that line (a deleted sample is generated "
                            "again).") from None
        seen.setdefault(rec.key, (r, rec))
    return Run(path=p, manifest=manifest, samples=[r for r, _ in seen.values()], n_bad_lines=n_bad,
               records=[s for _, s in seen.values()])


def write_manifest(run_dir: str | os.PathLike, manifest: dict) -> None:
    atomic_write_json(Path(run_dir) / MANIFEST, manifest)
