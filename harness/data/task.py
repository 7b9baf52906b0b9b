"""One :class:`Task` per benchmark: every fact about it in one object, and how its data is loaded.

A task owns its data sources and splits (local file, Hugging Face hub fallback), its row parser (the
gold as the benchmark's protocol defines it), its answer rules (:class:`~harness.answers.AnswerRules`:
family and documented tolerance), its default prompt, whether it is evaluation-only and which training
problems stand in for it in synthesis (:class:`SeedSource`), and whether it is exported to lm-eval.

Tasks are kept in a :class:`~harness.data.registry.TaskRegistry`; :func:`jsonl_task` builds a custom
task from any JSONL file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.answers.rules import AnswerRules
from harness.data.schema import Gold, Problem
from harness.errors import DataError
from harness.io import hub_reachable, hub_switched_off, iter_jsonl

#: The prompt every task uses unless it names another (a name in :data:`harness.prompts.PROMPTS`).
DEFAULT_PROMPT = "qwen-boxed"


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local data directory as an absolute path: the explicit argument, else ``$HARNESS_DATA_DIR``.

    Users type relative paths (``HARNESS_DATA_DIR=../shared/data``, ``--data-dir ../x``); they are
    resolved here, once, against the current directory. A relative ``$HARNESS_DATA_DIR`` is written
    back as absolute, so subprocesses started in another directory read the same folder.

    Returns:
        The absolute folder, or None when neither is set.
    """
    env = os.environ.get("HARNESS_DATA_DIR")
    d = explicit or env
    if not d:
        return None
    path = Path(os.path.abspath(Path(d).expanduser()))  # also folds "a/../b"
    if env and not explicit and env != str(path):
        os.environ["HARNESS_DATA_DIR"] = str(path)
    return path


#: Where the benchmark files go in a data folder (the built-in tasks' ``local_path``; checked by tests/test_newcomer.py).
DATA_LAYOUT = ("<dir>/gsm8k/{train,test}.jsonl, <dir>/math/{train,test,math500}.jsonl, and <dir>/<task>/test.jsonl "
               "for the other tasks")


def require_data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The one rule for the data folder, applied wherever benchmark data is read (``harness tasks``,
    ``harness eval``, synthesis seeds, decontamination, the loop): :func:`data_dir`, and a folder that
    was named (``--data-dir`` or ``$HARNESS_DATA_DIR``) but does not exist is an error at once, never
    a silent fall-back to the HF hub (which reads other copies, and offline retries for tens of seconds).
    With no folder named, data comes from the HF hub when online.

    Raises:
        DataError: the named folder is missing; the message says how to get the data.
    """
    d = data_dir(explicit)
    if d is None or d.is_dir():
        return d
    env = os.environ.get("HARNESS_DATA_DIR")
    src = "HARNESS_DATA_DIR" if explicit is None or (env and data_dir(env) == d) else "--data-dir"
    found = "a file" if d.exists() else "nothing there"
    raise DataError(f"Expected a benchmark data folder at {d} ({src}), found {found}. To get the data: copy a "
                    f"folder laid out as {DATA_LAYOUT} (the project's ../shared/data is one; `harness tasks` lists "
                    f"each task's splits and HF hub id) and pass --data-dir <dir> or set HARNESS_DATA_DIR=<dir>; "
                    f"or, online, unset {src} to read the HF hub.")


@dataclass(frozen=True)
class SeedSource:
    """Where the weak cells of an eval task find training problems: seeds (teacher path) and generator
    topics (generator path).

    Attributes:
        task: the task whose train split holds the seeds.
        same_subject: seeds and topics of the cell's own subject (and level), as for MATH cells; False:
            the whole train split (the eval task's cells, e.g. "AIME 2024 I", are not train subjects).
        min_level: only train problems of this MATH level or harder (and generators at this level).
    """

    task: str
    same_subject: bool = False
    min_level: int | None = None


@dataclass(frozen=True)
class Task:
    """A registered benchmark: every fact about it.

    ``version`` changes whenever anything that can move scores changes (data, gold fixes); see
    CHANGELOG.md.

    Attributes:
        name: the name ``--tasks`` takes.
        version: recorded in run manifests.
        rules: how answers are extracted and compared (family; ``rel_tol``, the benchmark evaluator's
            documented relative tolerance, or None: its protocol compares exactly).
        splits: split -> expected row count (0: unknown).
        description: one line for ``harness tasks``.
        local_path: ``(data folder, split) -> file`` of the local copy.
        parse_row: ``(row, task, split, index) -> Problem`` (the gold as the protocol defines it).
        hub: ``split -> rows`` from the Hugging Face hub, or None.
        hub_id: the hub dataset the loader falls back to (named in errors and ``harness tasks``).
        prompt: the default prompt template's name.
        eval_only: an evaluation set with no training data of its own (rows parsed by ``parse_row``
            wherever they come from: lm-eval hooks and ``harness grade`` of lm-eval logs use it too).
        seeds: where synthesis finds training problems for this task's weak cells (None: nowhere; its
            cells are reported, not filled).
        lmeval: exported as the lm-eval task ``harness_<name>`` by ``harness lm-eval-tasks``.
        path: a custom task's one data file (the data folder and the hub are not consulted).
    """

    name: str
    version: str
    rules: AnswerRules
    splits: Mapping[str, int]
    description: str
    local_path: Callable[[Path, str], Path] = field(repr=False)
    parse_row: Callable[[dict, str, str, int], Problem] = field(repr=False)
    hub: Callable[[str], list[dict]] | None = field(default=None, repr=False)
    hub_id: str | None = None
    prompt: str = DEFAULT_PROMPT
    eval_only: bool = False
    seeds: SeedSource | None = None
    lmeval: bool = False
    path: Path | None = None

    @property
    def answer_task(self) -> str:
        """The answer-rules family (``math`` or ``gsm8k``), as run manifests record it."""
        return self.rules.family

    @property
    def rel_tol(self) -> float | None:
        """The documented relative tolerance (None: exact)."""
        return self.rules.rel_tol

    @property
    def lmeval_name(self) -> str:
        """The lm-eval task name of this task's export."""
        return f"harness_{self.name}"

    def problem(self, row: dict, split: str = "test", idx: int = 0) -> Problem:
        """One raw row of this task's data as a :class:`Problem` (gold as the protocol defines it)."""
        return self.parse_row(row, self.name, split, idx)

    def load(self, split: str = "test", *, data_dir_: str | os.PathLike | None = None,
             allow_hub: bool | None = None) -> list[Problem]:
        """Load this task's problems.

        Sources, in order: the custom file (``path``); ``data_dir_`` or ``$HARNESS_DATA_DIR``
        (:func:`require_data_dir`: a named folder must exist); the HF hub (``allow_hub=False``: not tried;
        else tried unless the environment switches it off, :func:`harness.io.hub_switched_off`, or its
        host is unreachable, :func:`harness.io.hub_reachable`).

        Raises:
            DataError: a named data folder is missing; no source has the data (naming every place looked,
                why the hub was not tried, and how to get the data); a row misses a field (with
                file:line), or a line is not JSON or not UTF-8.
        """
        if split not in self.splits:
            raise DataError(f"Task {self.name!r} has no split {split!r}; available: {', '.join(self.splits)}.")
        looked: list[str] = []
        rows: list[dict] | None = None
        linenos: list[int] = []
        path: Path | None = None
        if self.path is not None:
            path = self.path
            rows = list(iter_jsonl(path, linenos=linenos))
        else:
            ddir = require_data_dir(data_dir_)
            if ddir is not None:
                path = self.local_path(ddir, split)
                looked.append(f"{path} (not found)")
                if path.is_file():
                    rows = list(iter_jsonl(path, linenos=linenos))
            else:
                looked.append("no data folder (--data-dir / HARNESS_DATA_DIR unset)")
        if rows is None:
            path = None
            hub_name = f"HF hub {self.hub_id}" if self.hub_id else "HF hub"
            off = "this step reads local files only" if allow_hub is False else hub_switched_off()
            if self.hub is None:
                looked.append("HF hub (no hub dataset for this task)")
            elif off:
                looked.append(f"{hub_name} (not tried: {off})")
            elif not hub_reachable():
                looked.append(f"{hub_name} (not reachable: no network?)")
            else:
                try:
                    rows = self.hub(split)
                except DataError as e:
                    looked.append(f"{hub_name} ({e})")
        if rows is None:
            hub = f"; or be online to read it from the HF hub ({self.hub_id})" if self.hub is not None else ""
            raise DataError(
                f"No data for task {self.name!r} split {split!r}. Looked in: {'; '.join(looked)}. To get it: put "
                f"{self.local_path(Path('<dir>'), split)} in a data folder and "
                f"pass --data-dir <dir> or set HARNESS_DATA_DIR=<dir>{hub}."
            )
        problems = []
        for i, r in enumerate(rows):
            try:
                problems.append(self.parse_row(r, self.name, split, i))
            except DataError as e:
                if path is None:
                    raise
                raise DataError(f"{path}:{linenos[i]}: {e}") from None
        if not problems:
            raise DataError(f"Task {self.name!r} split {split!r} has no problems (empty file?).")
        return problems


#: The former name of :class:`Task`.
TaskSpec = Task

_FIELDS = ("id", "question", "answer", "solution", "subject", "level")


def jsonl_task(
    name: str,
    path: str | os.PathLike,
    *,
    fields: Mapping[str, str] | None = None,
    answer_task: str = "math",
    rel_tol: float | None = None,
    version: str = "custom",
    split: str = "test",
    prompt: str = DEFAULT_PROMPT,
) -> Task:
    """A task read from any JSONL file (not registered: see :meth:`TaskRegistry.register`).

    Args:
        name: the task name.
        path: the JSONL file.
        fields: mapping from our field names (``id``, ``question``, ``answer``, ``solution``,
            ``subject``, ``level``) to the file's field names; unmapped fields use our names.
        answer_task: extraction rules, "math" (boxed) or "gsm8k" (#### / "The answer is").
        rel_tol: relative numeric tolerance of the task's protocol (None: exact).
        version: recorded in run manifests.
        split: the split name the file is.
        prompt: the default prompt template.

    Raises:
        DataError: an unknown key in ``fields``, or an unknown ``answer_task``.

    Examples:
        >>> t = jsonl_task("mine", "probs.jsonl", fields={"question": "prompt", "answer": "target"})
        >>> t.name, t.rules.family, t.path.name
        ('mine', 'math', 'probs.jsonl')
    """
    unknown = set(fields or {}) - set(_FIELDS)
    if unknown:
        raise DataError(f"Unknown field mapping keys {sorted(unknown)}; expected some of {sorted(_FIELDS)}.")
    fmap = {k: k for k in _FIELDS} | dict(fields or {})
    try:
        rules = AnswerRules(answer_task, rel_tol)  # type: ignore[arg-type]
    except ValueError as e:
        raise DataError(f"Custom task {name!r}: {e}.") from None
    src = Path(path)

    def parse(row: dict, task: str, sp: str, idx: int) -> Problem:
        missing = [ours for ours in ("question", "answer") if row.get(fmap[ours]) is None]
        if missing:
            hint = " ".join(f"--field {m}=THEIR_NAME" for m in missing)
            raise DataError(
                f"expected fields {', '.join(repr(fmap[m]) for m in missing)} (our {', '.join(missing)}); "
                f"found fields {', '.join(sorted(row)) or '(none)'}. If the file names them differently, map "
                f"them: {hint} (EvalConfig.fields / register_jsonl_task(fields=...))."
            )
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

    return Task(name=name, version=version, rules=rules, splits={split: 0},
                description=f"custom JSONL task from {src}", local_path=lambda d, s: src, parse_row=parse,
                prompt=prompt, path=src)
