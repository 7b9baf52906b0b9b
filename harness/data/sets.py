"""The built-in benchmarks: row parsers (gold answers as each benchmark's protocol defines them),
the built-in :class:`~harness.data.task.Task` s (:data:`BUILTIN_TASKS`) and the group aliases :data:`GROUPS`.

Per task: the local file under the data folder, the hub dataset it falls back to, the answer rules
(``math`` boxed or ``gsm8k``, and any documented tolerance), the cell label (``Problem.subject``),
whether it is evaluation-only, and which training problems stand in for it in synthesis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fractions import Fraction

from harness.answers.rules import AnswerRules
from harness.data.schema import Gold, Problem, first, hub_rows, need
from harness.data.task import SeedSource, Task
from harness.errors import DataError

MATH_SUBJECTS = (
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
)


# --- GSM8K -----------------------------------------------------------------------------------

_GSM_FINAL = re.compile(r"^####\s*(.+?)\s*$", re.MULTILINE)


def gsm8k_final_answer(answer_text: str) -> str:
    """The final answer of a GSM8K worked solution (the ``#### N`` line), thousands commas removed."""
    m = _GSM_FINAL.findall(answer_text)
    if not m:
        raise DataError(f"Expected a GSM8K answer ending in '#### <number>', found {answer_text[-60:]!r}.")
    return m[-1].replace(",", "").strip()


def _gsm8k_row(row: dict, task: str, split: str, idx: int) -> Problem:
    need(row, ("question", "answer"), f"{task}/{split} row {idx}")
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
    need(row, ("problem", "answer"), f"{task}/{split} row {idx}")
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


# --- competition and robustness sets (evaluation only) -----------------------------------------
# Local files are the QwenLM/Qwen2.5-Math evaluation copies (../shared/data/SOURCES.md); the
# parsers also accept the field names of each task's hub dataset.

_AIME_URL = re.compile(r"(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)")
_AIME_ID = re.compile(r"^(\d{4})-(I{1,2})-(\d+)$")  # Maxwell-Jia/AIME_2024 "ID", and our own ids
_AMC_URL = re.compile(r"(\d{4})_AMC_(\d+[AB])_Problems/Problem_(\d+)")


def integer_gold(value: object, where: str, *, lo: int | None = None, hi: int | None = None) -> str:
    """An integer gold written as text: ``"025"`` -> ``"25"``, AMC's ``27.0`` -> ``"27"``.

    Raises:
        DataError: the value is not an integer (or is outside ``[lo, hi]``).
    """
    text = str(value).strip()
    try:
        num = Fraction(text)  # exact: "27.0", "025", "1e3"
    except (ValueError, ZeroDivisionError):
        num = Fraction(1, 2)
    if num.denominator != 1:
        raise DataError(f"{where}: expected an integer answer, found {text!r}.")
    n = int(num)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise DataError(f"{where}: expected an integer answer in {lo}-{hi}, found {text!r}.")
    return str(n)


def _aime_row(row: dict, task: str, split: str, idx: int) -> Problem:
    where = f"{task}/{split} row {idx}"
    year = "2024" if task == "aime24" else "2025"
    m = _AIME_URL.search(str(row.get("url") or "")) or _AIME_ID.match(str(row.get("ID") or row.get("id") or ""))
    if m:
        year, exam, number = m.group(1), m.group(2), int(m.group(3))
    else:  # aime25 (no url): 30 rows, AIME I problems 1-15 then AIME II
        k = int(row["id"]) if str(row.get("id", "")).isdigit() else idx
        exam, number = ("I" if k < 15 else "II"), k % 15 + 1
    return Problem(
        id=f"{year}-{exam}-{number}",
        question=str(first(row, ("problem", "question", "Problem"), where)),
        answer=integer_gold(first(row, ("answer", "Answer"), where), where, lo=0, hi=999),
        solution=str(row.get("solution") or row.get("Solution") or ""),
        subject=f"AIME {year} {exam}",
        level=None,
        task=task,
    )


def _amc_row(row: dict, task: str, split: str, idx: int) -> Problem:
    where = f"{task}/{split} row {idx}"
    m = _AMC_URL.search(str(row.get("url") or ""))
    pid, subject = (f"{m.group(1)}-{m.group(2)}-{m.group(3)}", f"AMC {m.group(1)} {m.group(2)}") if m else (
        str(row.get("id", idx)), "AMC 2023")
    return Problem(
        id=pid,
        question=str(first(row, ("problem", "question"), where)),
        answer=integer_gold(first(row, ("answer",), where), where),
        solution=str(row.get("solution") or ""),
        subject=subject,
        level=None,
        task=task,
    )


def _minerva_row(row: dict, task: str, split: str, idx: int) -> Problem:
    from harness.answers import extract_answer

    where = f"{task}/{split} row {idx}"
    solution = str(row.get("solution") or "")
    # The protocol's gold: the last \boxed{} of the worked solution (hub copies store it as "answer").
    gold = extract_answer(solution, "math", "strict") if solution else None
    if gold is None:
        gold = str(first(row, ("answer",), where)).strip()
    return Problem(
        id=str(row.get("idx", idx)),
        question=str(first(row, ("problem", "question"), where)),
        answer=gold,
        solution=solution,
        subject=row.get("type"),  # the MIT OCW course
        level=None,
        task=task,
    )


def olympiadbench_gold(final_answer: object, where: str) -> str:
    """OlympiadBench's gold: the ``final_answer`` list, ``$`` delimiters removed, entries joined by ", ".

    A problem with ``is_multiple_answer`` lists every answer in its entry (``$(1,8,19), (2,7,13)$``),
    graded as an unordered list.
    """
    items = final_answer if isinstance(final_answer, list) else [final_answer]
    parts = [str(a).replace("$", "").strip() for a in items if str(a).strip()]
    if not parts:
        raise DataError(f"{where}: expected a non-empty 'final_answer' list, found {final_answer!r}.")
    return ", ".join(parts)


def _olympiad_row(row: dict, task: str, split: str, idx: int) -> Problem:
    where = f"{task}/{split} row {idx}"
    question = str(first(row, ("question",), where))
    if row.get("context"):
        question = f"{row['context']}\n{question}"
    return Problem(
        id=str(row.get("id", idx)),
        question=question,
        answer=olympiadbench_gold(first(row, ("final_answer",), where), where),
        solution="\n\n".join(sol) if isinstance(sol := row.get("solution") or "", list) else str(sol),
        subject=row.get("subfield"),
        level=None,
        task=task,
        # unit: what the answer is measured in; error: the evaluator's per-problem absolute tolerance
        meta={k: row.get(k) for k in ("unit", "answer_type", "is_multiple_answer", "error")},
    )


def _svamp_row(row: dict, task: str, split: str, idx: int) -> Problem:
    where = f"{task}/{split} row {idx}"
    body = str(first(row, ("Body",), where)).strip()
    # The question as ToRA / Qwen2.5-Math pose it: the body, closed with a period, then the question.
    question = f"{body if body.endswith('.') else body + '.'} {str(first(row, ('Question',), where)).strip()}"
    kind = str(row.get("Type") or "").replace("Common-Divison", "Common-Division")  # one upstream typo
    answer = float(first(row, ("Answer",), where))
    return Problem(
        id=str(row.get("ID", idx)),
        question=question,
        answer=integer_gold(answer, where) if answer == int(answer) else repr(answer),
        solution=str(row.get("Equation") or ""),
        subject=f"SVAMP {kind}" if kind else "SVAMP",
        level=None,
        task=task,
    )


def _hub(repo: str, config: str | None = None, *splits: str) -> Callable[[str], list[dict]]:
    """A hub loader for ``repo``: the requested split, or the hub ``splits`` concatenated into our one
    split (SVAMP's train 700 + test 300 = the 1,000 problems)."""

    def load(split: str) -> list[dict]:
        return [r for sp in (splits or (split,)) for r in hub_rows(repo, config, sp)]

    return load


def _task(name: str, parse: Callable, splits: Mapping[str, int], desc: str, hub_id: str, hub, *,
          family: str = "math", path: str | None = None, rel_tol: float | None = None,
          eval_only: bool = False, seeds: SeedSource | None = None) -> Task:
    """A built-in task at version 1.0 whose data is ``<data dir>/<name>/<split>.jsonl`` (or ``path``),
    exported to lm-eval."""
    folder, fixed = (path.split("/", 1) if path else (name, None))
    local = (lambda d, s: d / folder / fixed) if fixed else (lambda d, s: d / folder / f"{s}.jsonl")
    return Task(name=name, version="1.0", rules=AnswerRules(family, rel_tol),  # type: ignore[arg-type]
                splits=splits, description=desc, local_path=local, parse_row=parse, hub=hub, hub_id=hub_id,
                eval_only=eval_only, seeds=seeds, lmeval=True)


# Seed sources: MATH-500 is a subset of MATH test, so MATH train serves both. The evaluation-only
# competition sets have no train split: their stand-in is MATH train at the hardest levels (as
# Skywork-Math's stage 2 seeds from MATH level 4-5); SVAMP's is GSM8K train. Minerva Math (MIT OCW
# physics, chemistry, ...) has no stand-in here: its cells are reported, not filled.
_MATH_SAME = SeedSource("math", same_subject=True)

BUILTIN_TASKS: tuple[Task, ...] = (
    _task("gsm8k", _gsm8k_row, {"test": 1319, "train": 7473},
          "GSM8K grade-school math word problems (Cobbe et al. 2021)", "openai/gsm8k", _hub("openai/gsm8k", "main"),
          family="gsm8k", seeds=SeedSource("gsm8k")),
    _task("math", _math_row, {"test": 5000, "train": 7500},
          "MATH competition problems, 7 subjects x 5 levels (Hendrycks et al. 2021)",
          "nlile/hendrycks-MATH-benchmark", _hub("nlile/hendrycks-MATH-benchmark"), seeds=_MATH_SAME),
    _task("math500", _math_row, {"test": 500}, "MATH-500, the PRM800K 500-problem subset of the MATH test set",
          "HuggingFaceH4/MATH-500", _hub("HuggingFaceH4/MATH-500", None, "test"), path="math/math500.jsonl",
          seeds=_MATH_SAME),
    _task("aime24", _aime_row, {"test": 30}, "AIME 2024 I and II: integer answers 0-999",
          "HuggingFaceH4/aime_2024", _hub("HuggingFaceH4/aime_2024", None, "train"),
          eval_only=True, seeds=SeedSource("math", min_level=5)),
    _task("aime25", _aime_row, {"test": 30}, "AIME 2025 I and II: integer answers 0-999",
          "math-ai/aime25", _hub("math-ai/aime25", None, "test"), eval_only=True, seeds=SeedSource("math", min_level=5)),
    _task("amc23", _amc_row, {"test": 40}, "AMC 12 2023 (A/B), the 40-problem set of Qwen2.5-Math",
          "zwhe99/amc23", _hub("zwhe99/amc23", None, "test"), eval_only=True, seeds=SeedSource("math", min_level=4)),
    # Minerva's OCW evaluator (reproduced in EleutherAI/math-lm, citing arXiv:2206.14858) compares
    # numbers with np.isclose: relative 1e-5 of the gold (Qwen2.5-Math's harness uses 1e-4).
    _task("minerva_math", _minerva_row, {"test": 272}, "Minerva MIT OCW STEM problems (Lewkowycz et al. 2022)",
          "math-ai/minervamath", _hub("math-ai/minervamath", None, "test"), rel_tol=1e-5, eval_only=True),
    # OlympiadBench's own judge is exact at 1.01e-8 absolute (plus a per-problem `error`, kept in meta).
    _task("olympiadbench", _olympiad_row, {"test": 675},
          "OlympiadBench English text-only competition math, open-ended (He et al. 2024)",
          "Hothan/OlympiadBench:OE_TO_maths_en_COMP", _hub("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train"),
          eval_only=True, seeds=SeedSource("math", min_level=5)),
    _task("svamp", _svamp_row, {"test": 1000}, "SVAMP one-step arithmetic word problems (Patel et al. 2021)",
          "ChilleD/SVAMP", _hub("ChilleD/SVAMP", None, "train", "test"), family="gsm8k", eval_only=True,
          seeds=SeedSource("gsm8k")),
)

#: The built-in tasks by name (read-only use; the registry is :data:`harness.data.REGISTRY`).
TASKS: Mapping[str, Task] = {t.name: t for t in BUILTIN_TASKS}

#: The competition and robustness sets: evaluation only (no train split; :attr:`Task.eval_only`).
EVAL_ONLY_TASKS = tuple(t.name for t in BUILTIN_TASKS if t.eval_only)

#: Group aliases for --tasks, expanded by expand_tasks().
GROUPS: dict[str, tuple[str, ...]] = {
    "reasoning": ("aime24", "aime25", "amc23", "math500", "minerva_math", "olympiadbench"),
    "classic": ("gsm8k", "math500", "svamp"),
}
