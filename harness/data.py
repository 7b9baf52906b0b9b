"""Benchmarks as data: the task registry and loaders.

Every task yields :class:`Problem` records with ``id``, ``question``, ``answer`` (the final
reference answer; a tuple when several alternative answers are each accepted), ``solution``,
``subject`` and ``level``.

Sources, in order: ``data_dir`` argument, ``$HARNESS_DATA_DIR`` (both in the layout of
``../shared/data``: ``gsm8k/{train,test}.jsonl``, ``math/{train,test,math500}.jsonl``), then the
Hugging Face hub through ``datasets`` when online. A missing source raises one
:class:`~harness.errors.DataError` saying where it looked and how to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError, HarnessError, did_you_mean
from harness.io import iter_jsonl

Gold = str | tuple[str, ...]

MATH_SUBJECTS = (
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
)


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    ``answer`` is a string, or a tuple of alternative answers any one of which is accepted
    (e.g. "enter one of the foci"). A problem asking for *all* solutions has a single string
    gold listing them (``"-2, 1"``) and is graded as an unordered list.
    """

    id: str
    question: str
    answer: Gold
    solution: str = ""
    subject: str | None = None
    level: int | None = None
    task: str = ""
    meta: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "question": self.question,
            "answer": list(self.answer) if isinstance(self.answer, tuple) else self.answer,
            "solution": self.solution,
            "subject": self.subject,
            "level": self.level,
            "task": self.task,
        }


@dataclass(frozen=True)
class TaskSpec:
    """A registered benchmark.

    ``version`` changes whenever anything that can move scores changes (data, gold fixes);
    see CHANGELOG.md.
    """

    name: str
    version: str
    answer_task: str  # which extraction rules harness.answers uses: "gsm8k" or "math"
    splits: Mapping[str, int]  # split -> expected row count (0: unknown)
    description: str
    local_path: Callable[[Path, str], Path]
    parse_row: Callable[[dict, str, str, int], Problem]
    hub: Callable[[str], list[dict]] | None = None


# --- GSM8K -----------------------------------------------------------------------------------

_GSM_FINAL = re.compile(r"^####\s*(.+?)\s*$", re.MULTILINE)


def gsm8k_final_answer(answer_text: str) -> str:
    """The final answer of a GSM8K worked solution (the ``#### N`` line), thousands commas removed."""
    m = _GSM_FINAL.findall(answer_text)
    if not m:
        raise DataError(f"Expected a GSM8K answer ending in '#### <number>', found {answer_text[-60:]!r}.")
    return m[-1].replace(",", "").strip()


def _gsm8k_row(row: dict, task: str, split: str, idx: int) -> Problem:
    _need(row, ("question", "answer"), f"{task}/{split} row {idx}")
    solution = row["answer"]
    return Problem(
        id=f"{split}/{idx}",
        question=row["question"],
        answer=gsm8k_final_answer(solution),
        solution=solution.rsplit("####", 1)[0].strip(),
        subject="GSM8K",
        level=None,
        task=task,
    )


def _gsm8k_hub(split: str) -> list[dict]:
    return _hub_rows("openai/gsm8k", "main", split)


# --- MATH ------------------------------------------------------------------------------------

# MATH test problems whose last \boxed{} is not the full gold (see ../shared/data/SOURCES.md).
# "any": each boxed answer is an accepted alternative. "all": the gold is the list of them all.
MULTI_ANSWER_OVERRIDES: Mapping[str, str] = {
    "test/algebra/1730.json": "any",  # common difference -3 or 3: either accepted
    "test/intermediate_algebra/25.json": "any",  # "Enter only one of the foci"
    "test/intermediate_algebra/702.json": "any",  # "one of the vertices, not both"
    "test/intermediate_algebra/747.json": "any",  # either point accepted
    "test/algebra/1878.json": "all",  # "Find all solutions"
    "test/intermediate_algebra/225.json": "all",
    "test/intermediate_algebra/1020.json": "all",
    "test/intermediate_algebra/1855.json": "all",
    "test/intermediate_algebra/2089.json": "all",
    "test/precalculus/679.json": "all",
    "test/precalculus/1227.json": "all",
    "test/precalculus/1233.json": "all",
}


def math_gold(row: dict) -> Gold:
    """The gold of a MATH row: the last box, or the override for multi-answer problems."""
    kind = MULTI_ANSWER_OVERRIDES.get(row.get("unique_id", ""))
    boxes = [b.strip() for b in row.get("boxed_all") or []]
    if kind == "any" and len(boxes) > 1:
        return tuple(boxes)
    if kind == "all" and len(boxes) > 1:
        return ", ".join(boxes)
    return row["answer"]


def _math_row(row: dict, task: str, split: str, idx: int) -> Problem:
    _need(row, ("problem", "answer"), f"{task}/{split} row {idx}")
    level = row.get("level")
    if isinstance(level, str):
        m = re.search(r"\d", level)
        level = int(m.group()) if m else None
    subject = row.get("subject") or row.get("type")
    uid = row.get("unique_id") or f"{split}/{idx}"
    return Problem(
        id=uid,
        question=row["problem"],
        answer=math_gold(row),
        solution=row.get("solution", ""),
        subject=subject,
        level=level,
        task=task,
    )


def _math_hub(split: str) -> list[dict]:
    rows = _hub_rows("nlile/hendrycks-MATH-benchmark", None, split)
    return rows


def _math500_hub(split: str) -> list[dict]:
    return _hub_rows("HuggingFaceH4/MATH-500", None, "test")


TASKS: dict[str, TaskSpec] = {
    "gsm8k": TaskSpec(
        name="gsm8k",
        version="1.0",
        answer_task="gsm8k",
        splits={"test": 1319, "train": 7473},
        description="GSM8K grade-school math word problems (Cobbe et al. 2021)",
        local_path=lambda d, s: d / "gsm8k" / f"{s}.jsonl",
        parse_row=_gsm8k_row,
        hub=_gsm8k_hub,
    ),
    "math": TaskSpec(
        name="math",
        version="1.0",
        answer_task="math",
        splits={"test": 5000, "train": 7500},
        description="MATH competition problems, 7 subjects x 5 levels (Hendrycks et al. 2021)",
        local_path=lambda d, s: d / "math" / f"{s}.jsonl",
        parse_row=_math_row,
        hub=_math_hub,
    ),
    "math500": TaskSpec(
        name="math500",
        version="1.0",
        answer_task="math",
        splits={"test": 500},
        description="MATH-500, the PRM800K 500-problem subset of the MATH test set",
        local_path=lambda d, s: d / "math" / "math500.jsonl",
        parse_row=_math_row,
        hub=_math500_hub,
    ),
}

# Custom tasks registered at run time (register_jsonl_task).
_CUSTOM: dict[str, TaskSpec] = {}


def _need(row: dict, keys: Sequence[str], where: str) -> None:
    missing = [k for k in keys if k not in row or row[k] is None]
    if missing:
        raise DataError(
            f"{where}: expected fields {', '.join(keys)}, missing {', '.join(missing)}; "
            f"found fields {', '.join(sorted(row)) or '(none)'}."
        )


def _hub_rows(repo: str, config: str | None, split: str) -> list[dict]:
    try:
        import datasets  # type: ignore
    except ImportError as e:
        raise DataError(f"datasets is not installed ({e})") from e
    try:
        ds = datasets.load_dataset(repo, config, split=split) if config else datasets.load_dataset(repo, split=split)
    except Exception as e:
        raise DataError(f"could not load {repo} ({split}) from the Hugging Face hub: {type(e).__name__}: {e}") from e
    return [dict(r) for r in ds]


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local data directory: the explicit argument, else ``$HARNESS_DATA_DIR``, else None."""
    d = explicit or os.environ.get("HARNESS_DATA_DIR")
    return Path(d).expanduser() if d else None


def task_names() -> list[str]:
    return sorted({**TASKS, **_CUSTOM})


def get_task(name: str) -> TaskSpec:
    """Look up a registered task, with "did you mean" on a miss."""
    spec = _CUSTOM.get(name) or TASKS.get(name)
    if spec is None:
        raise HarnessError(did_you_mean(name, task_names(), "task"))
    return spec


def register_jsonl_task(
    name: str,
    path: str | os.PathLike,
    *,
    fields: Mapping[str, str] | None = None,
    answer_task: str = "math",
    version: str = "custom",
    split: str = "test",
) -> TaskSpec:
    """Register a task from any JSONL file.

    Args:
        name: the task name used by ``load_task`` and ``--tasks``.
        path: the JSONL file.
        fields: mapping from our field names (``id``, ``question``, ``answer``, ``solution``,
            ``subject``, ``level``) to the file's field names; unmapped fields use our names.
        answer_task: extraction rules, "math" (boxed) or "gsm8k" (#### / "The answer is").
        version: recorded in run manifests.

    Examples:
        >>> register_jsonl_task("mine", "probs.jsonl", fields={"question": "prompt", "answer": "target"})  # doctest: +SKIP
    """
    fmap = {k: k for k in ("id", "question", "answer", "solution", "subject", "level")}
    unknown = set(fields or {}) - set(fmap)
    if unknown:
        raise DataError(f"Unknown field mapping keys {sorted(unknown)}; expected some of {sorted(fmap)}.")
    fmap.update(fields or {})
    src = Path(path)

    def parse(row: dict, task: str, sp: str, idx: int) -> Problem:
        _need(row, (fmap["question"], fmap["answer"]), f"{src} line-record {idx}")
        ans = row[fmap["answer"]]
        gold: Gold = tuple(str(a) for a in ans) if isinstance(ans, list) else str(ans)
        lvl = row.get(fmap["level"])
        return Problem(
            id=str(row.get(fmap["id"], f"{sp}/{idx}")),
            question=str(row[fmap["question"]]),
            answer=gold,
            solution=str(row.get(fmap["solution"], "") or ""),
            subject=row.get(fmap["subject"]),
            level=int(lvl) if isinstance(lvl, (int, float, str)) and str(lvl).isdigit() else None,
            task=task,
        )

    spec = TaskSpec(
        name=name,
        version=version,
        answer_task=answer_task,
        splits={split: 0},
        description=f"custom JSONL task from {src}",
        local_path=lambda d, s: src,
        parse_row=parse,
        hub=None,
    )
    _CUSTOM[name] = spec
    return spec


def load_task(
    name: str,
    split: str = "test",
    *,
    data_dir_: str | os.PathLike | None = None,
    allow_hub: bool | None = None,
) -> list[Problem]:
    """Load a task's problems.

    Args:
        name: a registered task (``gsm8k``, ``math``, ``math500``, or a custom one).
        split: ``test`` or ``train``.
        data_dir_: local data directory (else ``$HARNESS_DATA_DIR``).
        allow_hub: try the HF hub when no local file exists (default: unless ``HF_HUB_OFFLINE=1``).

    Raises:
        DataError: no source has the data, a row misses a field, or a line is not JSON.
    """
    spec = get_task(name)
    if split not in spec.splits:
        raise DataError(f"Task {name!r} has no split {split!r}; available: {', '.join(spec.splits)}.")
    ddir = data_dir(data_dir_)
    looked: list[str] = []
    rows: list[dict] | None = None
    if spec.name in _CUSTOM:
        path = spec.local_path(Path("."), split)
        rows = list(iter_jsonl(path))
    elif ddir is not None:
        path = spec.local_path(ddir, split)
        looked.append(str(path))
        if path.is_file():
            rows = list(iter_jsonl(path))
    else:
        looked.append("no --data-dir and HARNESS_DATA_DIR unset")
    if rows is None:
        if allow_hub is None:
            allow_hub = os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True")
        if allow_hub and spec.hub is not None:
            try:
                rows = spec.hub(split)
            except DataError as e:
                looked.append(f"HF hub ({e})")
        else:
            looked.append("HF hub (offline)")
    if rows is None:
        raise DataError(
            f"No data for task {name!r} split {split!r}. Looked in: {'; '.join(looked)}. "
            "Fix: pass --data-dir DIR or set HARNESS_DATA_DIR to a folder laid out like "
            "gsm8k/test.jsonl, math/test.jsonl, math/math500.jsonl, or go online for the HF hub."
        )
    problems = [spec.parse_row(r, spec.name, split, i) for i, r in enumerate(rows)]
    if not problems:
        raise DataError(f"Task {name!r} split {split!r} has no problems (empty file?).")
    return problems
