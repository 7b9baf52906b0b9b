"""The metrics every reader of a run computes, in one place.

``results.json`` (:mod:`harness.reports`), the leaderboard, ``harness check``, ``harness weak`` and the
closed loop all call these functions on :class:`harness.records.Sample` s, so a figure is computed once
and the same everywhere (``tests/test_agreement.py`` checks it).

Rules (each decided once, here):

- **The unit is the problem.** An accuracy is the mean over problems of each problem's mean sample
  score; with one sample per problem that is k/n with a Wilson interval, with several (``--n`` > 1) it
  is avg@k with a normal interval clustered by problem (:func:`harness.stats.clustered_accuracy`).
  ``n`` counts problems, ``n_samples`` samples, ``correct`` correct samples.
- **An empty group has no accuracy:** ``acc`` and both CI ends are ``None`` (never 0.0), ``n`` is 0;
  a rate over no samples is ``None``.
- **Groups are what the samples say.** ``subject`` and ``level`` are taken as recorded; a sample
  without one (null) is in no subject/level group. No label is special: GSM8K's subject "GSM8K" is a
  one-group breakdown like any single-subject task (AIME 2024, ...), and a cell of ``harness weak``.
- **Paired differences** match samples on ``(task, id, sample_idx)`` and compare per-problem means:
  SE from the per-problem differences, the exact McNemar (sign) test on problems that differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.records import JUDGE_VERDICTS, MODES, STATUSES, TOL_MODES, Sample
from harness.stats import PairedDiff, clustered_accuracy, mean_interval, paired_difference, wilson_interval

CONFIDENCE = 0.95

#: Named grouping keys (``by=...``); any callable ``Sample -> hashable | None`` works too (None: no group).
KEYS: dict[str, Callable[[Sample], Hashable | None]] = {
    "task": lambda s: s.task,
    "problem": lambda s: s.problem,
    "subject": lambda s: s.subject,
    "level": lambda s: s.level,
    "subject_level": lambda s: None if s.subject is None or s.level is None else (s.subject, s.level),
    "cell": lambda s: s.cell,
}

KeyArg = str | Callable[[Sample], Hashable | None]


def key_fn(by: KeyArg) -> Callable[[Sample], Hashable | None]:
    """A grouping function from a name in :data:`KEYS` or a callable.

    Raises:
        ValueError: an unknown name.
    """
    if callable(by):
        return by
    if by not in KEYS:
        raise ValueError(f"Expected a grouping key in {sorted(KEYS)}, found {by!r}.")
    return KEYS[by]


def _order(g: Any) -> tuple:
    """Sort key for group labels mixing str, int and None (None last, ints numerically)."""
    parts = g if isinstance(g, tuple) else (g,)
    return tuple((2, 0, "") if x is None else (0, x, "") if isinstance(x, int) else (1, 0, str(x)) for x in parts)


def group(samples: Iterable[Sample], by: KeyArg) -> dict[Any, list[Sample]]:
    """Samples grouped by a key, groups sorted (see :func:`_order`); samples whose key is None are left out."""
    f = key_fn(by)
    out: dict[Any, list[Sample]] = {}
    for s in samples:
        k = f(s)
        if k is not None:
            out.setdefault(k, []).append(s)
    return {k: out[k] for k in sorted(out, key=_order)}


def per_problem(samples: Iterable[Sample], mode: str = "strict") -> dict[tuple[str, str], list[float]]:
    """Each problem's sample scores in ``mode``, in first-seen order."""
    out: dict[tuple[str, str], list[float]] = {}
    for s in samples:
        out.setdefault(s.problem, []).append(s.score(mode))
    return out


def half_width(acc: float, lo: float, hi: float) -> float:
    """The larger distance from ``acc`` to an end of its CI ``[lo, hi]``: what tables show as ``±``."""
    return max(acc - lo, hi - acc)


@dataclass(frozen=True)
class Accuracy:
    """An accuracy over problems with its confidence interval (``None`` everywhere for an empty group)."""

    acc: float | None
    ci: tuple[float | None, float | None]
    n: int  # problems
    n_samples: int
    correct: int  # correct samples

    @property
    def half_width(self) -> float | None:
        """The larger distance from ``acc`` to a CI end (what "+-" shows)."""
        if self.acc is None or self.ci[0] is None or self.ci[1] is None:
            return None
        return half_width(self.acc, self.ci[0], self.ci[1])

    def to_dict(self) -> dict:
        """``{"acc", "ci": [lo, hi], "n", "n_samples", "correct"}`` (the results.json / leaderboard block)."""
        return {"acc": self.acc, "ci": list(self.ci), "n": self.n, "n_samples": self.n_samples,
                "correct": self.correct}


def accuracy(samples: Iterable[Sample], mode: str = "strict", confidence: float = CONFIDENCE) -> Accuracy:
    """Accuracy over problems in ``mode`` (avg@k with several samples), CI clustered by problem.

    Args:
        samples: graded samples (any tasks; a problem is ``(task, id)``).
        mode: strict, flexible, tol_strict or tol_flexible.
        confidence: CI level.

    Returns:
        :class:`Accuracy`; ``acc`` None when there are no samples.
    """
    per = per_problem(samples, mode)
    if not per:
        return Accuracy(None, (None, None), 0, 0, 0)
    acc, lo, hi = clustered_accuracy(list(per.values()), confidence)
    n_samples = sum(len(v) for v in per.values())
    correct = round(sum(sum(v) for v in per.values()))
    return Accuracy(acc, (lo, hi), len(per), n_samples, correct)


def accuracy_by(samples: Iterable[Sample], by: KeyArg, mode: str = "strict",
                confidence: float = CONFIDENCE) -> dict[Any, Accuracy]:
    """:func:`accuracy` of each group (see :func:`group`)."""
    return {k: accuracy(v, mode, confidence) for k, v in group(samples, by).items()}


def modes_present(samples: Sequence[Sample]) -> tuple[str, ...]:
    """strict and flexible, plus each ``tol_*`` mode some sample carries a verdict for."""
    return MODES + tuple(m for m in TOL_MODES if any(s.has(m) for s in samples))


# --------------------------------------------------------------------------- paired differences


def paired(base: Iterable[Sample], cand: Iterable[Sample], mode: str = "strict",
           confidence: float = CONFIDENCE) -> PairedDiff | None:
    """Candidate minus baseline on the samples both have (matched on ``(task, id, sample_idx)``).

    Per-problem means of the matched samples are compared (:func:`harness.stats.paired_difference`).

    Returns:
        The difference, or None when no sample matches.
    """
    b = {s.key: s for s in base}
    a_scores: dict[tuple[str, str], list[float]] = {}
    c_scores: dict[tuple[str, str], list[float]] = {}
    for s in cand:
        if s.key in b:
            a_scores.setdefault(s.problem, []).append(b[s.key].score(mode))
            c_scores.setdefault(s.problem, []).append(s.score(mode))
    if not a_scores:
        return None
    probs = list(a_scores)
    return paired_difference([math.fsum(a_scores[p]) / len(a_scores[p]) for p in probs],
                             [math.fsum(c_scores[p]) / len(c_scores[p]) for p in probs], confidence)


def paired_by(base: Iterable[Sample], cand: Iterable[Sample], by: KeyArg, mode: str = "strict",
              confidence: float = CONFIDENCE) -> dict[Any, PairedDiff]:
    """:func:`paired` within each group of the candidate's samples (groups without a match are left out)."""
    idx = {s.key: s for s in base}
    out = {}
    for k, rows in group(cand, by).items():
        d = paired([idx[s.key] for s in rows if s.key in idx], rows, mode, confidence)
        if d is not None:
            out[k] = d
    return out


# --------------------------------------------------------------------------- several samples per problem


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021) for one problem.

    Raises:
        ValueError: k > n.
    """
    if k > n:
        raise ValueError(f"pass@k needs k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(samples: Sequence[Sample], mode: str, answer_task: str) -> bool:
    """Majority vote over extracted answers, grouped by :func:`harness.answers.equivalent`.

    Samples without an answer do not vote; ties go to the group whose first member came first
    (lowest sample_idx). The vote is correct when the winning group's samples are graded correct.
    """
    from harness.answers import equivalent

    groups: list[list[Sample]] = []
    for s in sorted(samples, key=lambda r: r.sample_idx):
        ans = s.extracted(mode)
        if ans is None:
            continue
        for g in groups:
            if equivalent(str(ans), str(g[0].extracted(mode)), answer_task):
                g.append(s)
                break
        else:
            groups.append([s])
    if not groups:
        return False
    best = max(groups, key=len)  # max keeps the first of equal lengths
    return best[0].correct(mode)


def _estimate(values: Sequence[float], confidence: float) -> dict:
    if not values:
        return {"acc": None, "ci": [None, None], "n": 0}
    m, lo, hi = mean_interval(values, confidence)
    return {"acc": m, "ci": [lo, hi], "n": len(values)}


def sampling_metrics(samples: Sequence[Sample], mode: str, answer_task: str = "math",
                     confidence: float = CONFIDENCE) -> dict | None:
    """avg@k, pass@k and maj@k of one task's samples, or None with one sample per problem.

    Returns:
        ``{"k", "avg@k": Accuracy dict, "pass@k": {"<k'>": {"acc", "ci", "n"}}, "maj@k": Accuracy dict}``:
        k is the most samples any problem has; pass@k' for k' in 1, 2, 4, ..., k over problems with at
        least k' samples (the unbiased estimator, a normal CI over problems); maj@k a 0/1 per problem.
    """
    probs: dict[tuple[str, str], list[Sample]] = {}
    for s in samples:
        probs.setdefault(s.problem, []).append(s)
    k = max((len(v) for v in probs.values()), default=1)
    if k <= 1:
        return None
    ks = sorted({1, k} | {2**j for j in range(1, 12) if 2**j < k})
    passk = {
        str(kk): _estimate([pass_at_k(len(v), sum(s.correct(mode) for s in v), kk)
                            for v in probs.values() if len(v) >= kk], confidence)
        for kk in ks
    }
    votes = sum(majority_correct(v, mode, answer_task) for v in probs.values())
    lo, hi = wilson_interval(votes, len(probs), confidence)
    maj = Accuracy(votes / len(probs), (lo, hi), len(probs), len(probs), votes)
    return {"k": k, "avg@k": accuracy(samples, mode, confidence).to_dict(), "pass@k": passk, "maj@k": maj.to_dict()}


# --------------------------------------------------------------------------- statuses and rates


def status_counts(samples: Iterable[Sample], mode: str = "strict") -> dict[str, int]:
    """Samples per status in ``mode``: every status of :data:`harness.records.STATUSES` (0 when none),
    plus any other recorded value under its own name and ``"missing"`` for records without a status."""
    out = dict.fromkeys(STATUSES, 0)
    for s in samples:
        st = s.status(mode) or "missing"
        out[st] = out.get(st, 0) + 1
    return out


def rate(samples: Sequence[Sample], pred: Callable[[Sample], bool | None]) -> float | None:
    """Share of samples where ``pred`` is true; None over no samples, or when ``pred`` is None for every
    sample (the field was never recorded, e.g. ``unclosed_think`` in older runs)."""
    vals = [pred(s) for s in samples]
    known = [v for v in vals if v is not None]
    if not known:
        return None
    return sum(bool(v) for v in known) / len(known)


def either_status(samples: Iterable[Sample], status: str) -> int:
    """Samples whose strict or flexible grading had ``status`` (e.g. timeout, error)."""
    return sum(1 for s in samples if status in (s.status("strict"), s.status("flexible")))


def judge_counts(samples: Iterable[Sample]) -> dict:
    """What the judge did for these samples (from their judge fields): ``{"samples"`` judged, ``"verdicts"``
    ``{correct, incorrect, undecided: int}``, ``"reasons"`` ``{why the rules could not decide: int}``,
    ``"requests"``, ``"prompt_tokens"``, ``"tokens"}``."""
    out: dict = {"samples": 0, "verdicts": dict.fromkeys(JUDGE_VERDICTS, 0), "reasons": {}, "requests": 0,
                 "prompt_tokens": 0, "tokens": 0}
    for s in samples:
        if s.judge_verdict is None:
            continue
        out["samples"] += 1
        out["verdicts"][s.judge_verdict] = out["verdicts"].get(s.judge_verdict, 0) + 1
        reason = s.judge_reason or "missing"
        out["reasons"][reason] = out["reasons"].get(reason, 0) + 1
        out["requests"] += s.judge_requests or 0
        out["prompt_tokens"] += s.judge_prompt_tokens or 0
        out["tokens"] += s.judge_tokens or 0
    return out


def as_samples(rows: Iterable[Sample | Mapping]) -> list[Sample]:
    """Samples from :class:`Sample` s or raw samples.jsonl objects (parsed by :meth:`Sample.from_dict`)."""
    return [r if isinstance(r, Sample) else Sample.from_dict(r) for r in rows]
