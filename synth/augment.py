"""Teacher augmentation: the paper's three methods as versioned prompt templates, parsing of the teacher's
new problem, and answer checking by majority vote over K teacher solutions (beyond the paper).

Methods (``TEMPLATES``; name + version recorded in each row's provenance):

1. ``metamath``: ``rephrase``; ``fobar`` (a number of the question masked as X, the answer given, ask X;
   the question is built by code, so its answer is known and no teacher request is made for it); ``sv`` (self-verification: the teacher states
   the question and answer declaratively with a number masked as X).
2. ``evol``: the five Evol-Instruct steps ``same``, ``constraints``, ``deepen``, ``concretize``, ``steps``.
3. ``xwin``: a new question, checked step by step, corrected if flawed.

Every teacher reply must give the problem after ``New problem:`` (xwin: ``Corrected problem:`` wins when
present and not "none"). Bad outputs are counted by reason and skipped, never fatal, and never become rows:
empty (``bad_empty``), no usable problem (``bad_unparseable``), a reply cut at ``max_tokens``
(``bad_truncated``: a cut problem is not a problem), a "problem" that reads as a solution (it states a final
answer: ``bad_not_a_problem``) or that repeats one of its own solutions (``bad_echo``: a teacher that returns
the same text for every request). Solutions cut at ``max_tokens`` do not vote, and identical solution texts
are one vote, not several (k copies of one reply verify nothing), so the vote counts distinct solutions.

The work is split into :class:`Unit` s (seed x method, stable ``key``): :func:`plan_units` renders them,
:func:`run_units` streams them through the teacher and yields each unit's JSON-able record as soon as
it is finished (what ``synth.pipeline`` appends to its resume sidecar), :func:`counts_from_records`
rebuilds the counts from records.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from harness.answers import AnswerRules, equivalent, extract_answer
from harness.backends.base import Backend, Generation, Request, SamplingParams, stream
from harness.data import Problem, answer_rules
from harness.prompts import get_prompt

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 3000
FORMAT = ("\nWrite the result after the line 'New problem:' and nothing after it but the problem.")


@dataclass(frozen=True)
class TeacherTemplate:
    name: str  # "<method>/<variant>"
    version: str
    method: str
    render: Callable[[Problem, random.Random], tuple[str, str | None]]  # -> (prompt, known answer or None)


def _golds(p: Problem) -> str:
    return p.answer if isinstance(p.answer, str) else p.answer[0]


def _rephrase(p, rng):
    return f"Rephrase the following math problem without changing its meaning or answer.\n\nProblem: {p.question}{FORMAT}", None


_NUM = re.compile(r"(?<![\w.^_{])(\d+)(?![\w.}])")


def _fobar(p, rng):
    nums = list(_NUM.finditer(p.question))
    if not nums:
        return "", None
    m = rng.choice(nums)
    q = p.question[: m.start()] + "X" + p.question[m.end():]
    new = f"{q}\nIf we know the answer to the above question is {_golds(p)}, what is the value of the unknown variable X?"
    return f"Copy this problem exactly.{FORMAT}\nNew problem: {new}", m.group(1)


def _sv(p, rng):
    return (f"Rewrite the problem and its answer ({_golds(p)}) as a statement in which one number of the problem "
            f"is replaced by an unknown variable X, then ask for the value of X.\n\nProblem: {p.question}{FORMAT}"), None


_EVOL = {
    "same": "Rewrite the problem into a new problem of the same difficulty and topic.",
    "constraints": "Add one more constraint or requirement to the problem.",
    "deepen": "Increase the depth and breadth of the problem so it needs more insight.",
    "concretize": "Replace general concepts in the problem with more specific ones.",
    "steps": "Rewrite the problem so that solving it needs more reasoning steps.",
}


def _evol(step):
    def render(p, rng):
        return f"{_EVOL[step]} The new problem must be solvable with one final answer.\n\nProblem: {p.question}{FORMAT}", None
    return render


def _xwin(p, rng):
    return (f"Write a new problem inspired by the problem below. Then check the new problem step by step under "
            f"'Verification:'. If it is flawed, give a fixed version after 'Corrected problem:', else write "
            f"'Corrected problem: none'.\n\nProblem: {p.question}\n\nNew problem:"), None


TEMPLATES: dict[str, TeacherTemplate] = {t.name: t for t in [
    TeacherTemplate("metamath/rephrase", "1", "metamath", _rephrase),
    TeacherTemplate("metamath/fobar", "1", "metamath", _fobar),
    TeacherTemplate("metamath/sv", "1", "metamath", _sv),
    *[TeacherTemplate(f"evol/{s}", "1", "evol", _evol(s)) for s in _EVOL],
    TeacherTemplate("xwin/generate-verify-correct", "1", "xwin", _xwin),
]}
METHODS = ("metamath", "evol", "xwin")

_NEW = re.compile(r"New problem:\s*", re.IGNORECASE)
_CORR = re.compile(r"Corrected problem:\s*", re.IGNORECASE)
_STOP = re.compile(r"\n\s*(?:Verification|Solution|Answer|Corrected problem)\s*:", re.IGNORECASE)


def parse_problem(text: str, template: TeacherTemplate, prompt: str = "") -> str | None:
    """The new problem in a teacher reply, or None when there is none usable.

    Args:
        text: the teacher's completion (untrusted).
        template: the template used (xwin replies start right after "New problem:").
        prompt: the rendered prompt (for FOBAR the problem is in the prompt itself).
    """
    text = (text or "")[: 4 * MAX_QUESTION_CHARS]
    if template.name == "metamath/fobar":
        return _valid(prompt.split("New problem:", 1)[1].strip())  # built by code: the answer is known
    if template.method == "xwin":
        corr = _CORR.search(text)
        if corr:
            c = _STOP.split(text[corr.end():], 1)[0].strip()
            if c and c.lower().rstrip(".") != "none":
                return _valid(c)
        return _valid(_STOP.split(text, 1)[0].strip())
    m = list(_NEW.finditer(text))
    if not m:
        return None
    return _valid(_STOP.split(text[m[-1].end():], 1)[0].strip())


def _valid(q: str) -> str | None:
    if not (15 <= len(q) <= MAX_QUESTION_CHARS):
        return None
    letters = sum(ch.isalpha() for ch in q)
    if letters < 0.4 * len(q.replace(" ", "")) or len(q.split()) < 4:
        return None
    return q


def vote(answers: Sequence[str | None], family: str | AnswerRules) -> tuple[str | None, float, int]:
    """Majority over extracted answers (equivalence classes via harness.answers).

    Returns:
        ``(answer, agreement, index)``: the majority answer or None when no class has more than half,
        the largest class's share of all K, and the index of one solution in it.
    """
    classes: list[list[int]] = []
    for i, a in enumerate(answers):
        if a is None:
            continue
        for c in classes:
            if equivalent(a, answers[c[0]], family):  # type: ignore[arg-type]
                c.append(i)
                break
        else:
            classes.append([i])
    if not classes:
        return None, 0.0, -1
    best = max(classes, key=len)
    agreement = len(best) / len(answers)
    return (answers[best[0]] if agreement > 0.5 else None), agreement, best[0]


def strip_final(solution: str) -> str:
    """The reasoning of a teacher solution without its final-answer line(s)."""
    lines = solution.rstrip().splitlines()
    while lines and re.search(r"\\boxed|answer is", lines[-1], re.IGNORECASE):
        lines.pop()
    return "\n".join(lines).strip()


@dataclass(frozen=True)
class Unit:
    """One unit of teacher work: a seed problem x method (x stage, cell), with its rendered request.

    ``key`` is stable across runs (cell, stage, seed id, a hash of the seed question, method), so a
    resumed run finds the units it already finished.
    """

    key: str
    problem: Problem
    cell: dict
    stage: str
    template: TeacherTemplate
    prompt: str
    known: str | None

    @property
    def by_code(self) -> bool:
        """True when the new problem is built by code (FOBAR): no teacher request for it."""
        return self.template.name == "metamath/fobar"


OUTCOMES = ("bad_empty", "bad_unparseable", "bad_truncated", "bad_not_a_problem", "bad_echo", "no_answer",
            "disagree", "accepted")


def unit_key(p: Problem, cell: dict, stage: str, method: str) -> str:
    """The stable key of a seed x method unit."""
    qh = hashlib.blake2b(p.question.encode(), digest_size=6).hexdigest()
    c = f"{cell.get('task')}/{cell.get('subject')}/{cell.get('level')}"
    return f"{c}|{stage}|{p.id}|{qh}|{method}"


def plan_units(seeds: Sequence[tuple[Problem, dict, str]], methods: Sequence[str],
               seed: int = 0) -> tuple[list[Unit], Counter]:
    """Render one teacher request per seed x method, deterministically per unit (independent of order).

    Args:
        seeds: ``(problem, cell, stage)`` triples.
        methods: subset of :data:`METHODS`.
        seed: the run seed (with the unit key it seeds the template choice and the FOBAR mask).

    Returns:
        ``(units, counts)``; ``counts["skipped_no_number"]``: FOBAR picks on a question without a number.
    """
    by_method = {m: sorted((t for t in TEMPLATES.values() if t.method == m), key=lambda t: t.name)
                 for m in methods}
    units: list[Unit] = []
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    for p, cell, stage in seeds:
        for m in methods:
            key = unit_key(p, cell, stage, m)
            if key in seen:  # the same seed twice in a cell: one unit
                continue
            seen.add(key)
            rng = random.Random(f"{seed}|{key}")
            t = rng.choice(by_method[m])
            prompt, known = t.render(p, rng)
            if not prompt:
                counts["skipped_no_number"] += 1
                continue
            units.append(Unit(key, p, cell, stage, t, prompt, known))
    return units, counts


def _new_record(u: Unit) -> dict:
    return {"key": u.key, "template": u.template.name, "template_version": u.template.version,
            "sent": not u.by_code, "teacher_text": None, "question": None, "solutions": [], "extracted": [],
            "outcome": None, "agreement": None, "item": None}


def _rules(u: Unit) -> AnswerRules:
    """The answer rules of the unit's cell: its task's own (SVAMP's are GSM8K's)."""
    return answer_rules(str(u.cell.get("task")))


def _take_problem(u: Unit, rec: dict, text: str | None, finish_reason: str = "stop") -> str | None:
    """Record the teacher's reply (None for FOBAR) and parse the new problem; None (outcome set) if unusable."""
    if not u.by_code:
        rec["teacher_text"] = (text or "")[: 4 * MAX_QUESTION_CHARS]
        if not rec["teacher_text"].strip():
            rec["outcome"] = "bad_empty"
            return None
        if finish_reason == "length":  # cut at max_tokens: whatever follows "New problem:" may be cut too
            rec["outcome"] = "bad_truncated"
            return None
    q = parse_problem(rec["teacher_text"] or "", u.template, u.prompt)
    if q is None:
        rec["outcome"] = "bad_unparseable"
    elif not u.by_code and extract_answer(q, _rules(u), "strict") is not None:
        rec["outcome"], q = "bad_not_a_problem", None  # it states a final answer: a solution, not a problem
    rec["question"] = q
    return q


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _judge(u: Unit, rec: dict, texts: list[str], k: int, teacher: str,
           truncated: Sequence[bool] = ()) -> None:
    """Vote over the K solutions of the unit's new problem; set the outcome (and the item when accepted).

    A solution cut at ``max_tokens`` (``truncated[i]``) does not vote; a solution whose text repeats an
    earlier one is the same vote (it is not counted again), so ``agreement`` is distinct agreeing solutions
    over K. A problem that repeats one of its solutions is ``bad_echo``.
    """
    p, cell = u.problem, u.cell
    rules = _rules(u)
    rec["solutions"] = texts
    if rec["question"] is not None and any(_same_text(rec["question"], t) for t in texts):
        rec["outcome"], rec["extracted"] = "bad_echo", [None] * len(texts)
        return
    cut = [bool(truncated[i]) if i < len(truncated) else False for i in range(len(texts))]
    first = [not any(_same_text(t, texts[j]) for j in range(i)) for i, t in enumerate(texts)]
    extracted = [extract_answer(t, rules) if first[i] and not cut[i] else None for i, t in enumerate(texts)]
    rec["extracted"] = extracted
    rec["solutions_truncated"] = sum(cut)
    rec["solutions_repeated"] = len(texts) - sum(first)
    if all(a is None for a in extracted):  # also: a backend that returned no solution at all
        rec["outcome"] = "no_answer"
        return
    ans, agreement, idx = vote(extracted + [None] * max(0, k - len(extracted)), rules)
    rec["agreement"] = round(agreement, 4)
    if ans is None or (u.known is not None and not equivalent(ans, u.known, rules)):
        rec["outcome"] = "disagree"
        return
    rec["outcome"] = "accepted"
    rec["item"] = {
        "question": rec["question"], "reasoning": strip_final(texts[idx]), "answer": ans, "task": rules.family,
        "subject": p.subject, "level": p.level,
        "provenance": {"method": u.template.method, "template": u.template.name,
                       "template_version": u.template.version, "teacher": teacher, "seed_id": p.id,
                       "cell": [cell.get("task"), cell.get("subject"), cell.get("level")], "stage": u.stage,
                       "agreement": round(agreement, 4), "k": k},
    }


def run_units(units: Sequence[Unit], backend: Backend, *, k: int = 4, seed: int = 0, temperature: float = 0.7,
              max_new_tokens: int = 512, solver_prompt: str = "qwen-boxed", window: int = 64,
              progress: Any = None) -> Iterator[dict]:
    """Do the teacher work of units, streamed: each unit's new-problem request (none for FOBAR) and then its
    K-solution request go through :func:`harness.backends.stream` with up to ``window`` requests in flight,
    in one pass (a unit's solution request is issued as soon as its problem is back, ahead of new units;
    when only solutions of problems still in flight are left, the request iterator yields ``None``, "nothing
    ready yet", so the stream waits on them instead of ending).

    Sampling is seeded per run, not per batch or unit (problem requests ``seed``, solution requests
    ``seed + 1``), so with a backend that seeds each request (openai, vllm) a unit's result does not depend
    on which other units were in flight with it.

    Args:
        units: the units to do.
        backend: the teacher.
        k: teacher solutions per new problem.
        seed: the run's sampling seed.
        window: requests in flight.
        progress: an optional :class:`harness.progress.StreamProgress` (requests issued/finished, units done).

    Yields:
        One JSON-able record per unit as soon as the unit is finished (completion order): ``key, template,
        template_version, sent`` (a teacher request was made for the problem), ``teacher_text, question,
        solutions, extracted, outcome`` (one of :data:`OUTCOMES`), ``agreement`` and ``item`` (the accepted
        item, else None).

    Raises:
        BackendError: from the backend (units already yielded are finished and valid).
    """
    tmpl = get_prompt(solver_prompt)
    ask = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, n=1, seed=seed)
    solve = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, n=k, seed=seed + 1,
                           stop=tuple(tmpl.stop))
    teacher = getattr(backend, "name", type(backend).__name__)
    recs = [_new_record(u) for u in units]
    ready: deque[dict] = deque()  # finished units, yielded in order of finishing
    solves: deque[Request] = deque()  # owed solution requests (their problem is back): sent before new units
    fresh = iter(range(len(units)))
    in_flight = 0

    def problem_back(i: int, gen: Generation | None) -> None:  # None: FOBAR, built by code
        q = _take_problem(units[i], recs[i], None if gen is None else gen.text,
                          "stop" if gen is None else gen.finish_reason)
        if q is None:
            ready.append(recs[i])
        else:
            solves.append(Request(("solve", i), tmpl.render(q).text, solve))

    def feed() -> Iterator[Request | None]:
        """The requests: owed solutions first, then new units; ``None`` (nothing ready until an answer
        in flight comes back) while only solution requests of problems in flight are left."""
        nonlocal in_flight
        while True:
            if solves:
                req = solves.popleft()
            else:
                i = next(fresh, None)
                if i is None:
                    if not in_flight:
                        return
                    yield None
                    continue
                if units[i].by_code:
                    problem_back(i, None)
                    continue
                req = Request(("problem", i), units[i].prompt, ask)
            in_flight += 1
            if progress is not None:
                progress.issued(1)
            yield req

    for req, gens in stream(backend, feed(), window=window):
        in_flight -= 1
        stage, i = cast(tuple[str, int], req.key)
        if stage == "problem":
            problem_back(i, gens[0] if gens else Generation(""))
        else:
            _judge(units[i], recs[i], [g.text for g in gens], k, teacher, [g.finish_reason == "length" for g in gens])
            ready.append(recs[i])
        if progress is not None:
            progress.finished(0, sum(int(g.tokens) for g in gens))
        while ready:
            yield ready.popleft()
    while ready:  # FOBAR units whose problem was built by code after the last answer
        yield ready.popleft()


def counts_from_records(records: Sequence[dict]) -> Counter:
    """Outcome counts of finished units (each unit once): ``units, teacher_prompts, built_by_code`` + outcomes,
    and over their solutions ``solutions_truncated`` (cut at max_tokens: no vote) and ``solutions_repeated``
    (the same text as an earlier solution of the unit: the same vote)."""
    c: Counter = Counter()
    for r in records:
        c["units"] += 1
        c["teacher_prompts" if r["sent"] else "built_by_code"] += 1
        c[r["outcome"]] += 1
        c["solutions_truncated"] += r.get("solutions_truncated", 0)
        c["solutions_repeated"] += r.get("solutions_repeated", 0)
    return c


def augment(seeds: Sequence[tuple[Problem, dict, str]], backend: Backend, *, methods: Sequence[str],
            k: int = 4, seed: int = 0, temperature: float = 0.7, max_new_tokens: int = 512,
            solver_prompt: str = "qwen-boxed") -> tuple[list[dict], Counter]:
    """Make new problems from seeds with a teacher and keep those whose K solutions agree (streamed, not
    resumable; ``synth.pipeline`` streams the same units with a resumable sidecar).

    Args:
        seeds: ``(problem, cell, stage)`` triples (stage "normal" or "hard").
        backend: the teacher (any harness backend).
        methods: subset of :data:`METHODS`.
        k: teacher solutions per new problem (``params.n``).

    Returns:
        ``(items, counts)``: accepted items with question, reasoning, answer, family, provenance; counts of
        each outcome (``units`` = ``teacher_prompts`` + ``built_by_code`` = the sum of :data:`OUTCOMES`).
    """
    units, counts = plan_units(seeds, methods, seed)
    by_key = {r["key"]: r for r in run_units(units, backend, k=k, seed=seed, temperature=temperature,
                                                max_new_tokens=max_new_tokens, solver_prompt=solver_prompt)}
    recs = [by_key[u.key] for u in units]
    counts.update(counts_from_records(recs))
    return [r["item"] for r in recs if r["item"]], counts
