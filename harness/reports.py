"""Aggregation of a run directory into ``results.json`` and printed tables.

``summarize(run)`` reads the graded samples of a :class:`harness.records.Run` and returns the
dict written to ``results.json``; ``format_tables(results)`` renders it with tabulate.

results.json schema (the leaderboard and ``harness check`` read this; additive changes only)::

    {
      "manifest": {...},                       # the run's manifest.json, verbatim
      "n_bad_lines": int,                      # malformed samples.jsonl lines ignored
      "tasks": {
        "<task>": {
          "strict":   {"acc": float, "ci": [lo, hi], "n": int, "correct": int},
          "flexible": {"acc": float, "ci": [lo, hi], "n": int, "correct": int},
          "n_problems": int,                   # distinct problem ids (n counts samples)
          "no_answer_rate": float,             # strict extraction found nothing
          "no_answer_rate_flexible": float,
          "timeout": int,                      # samples whose strict or flexible grading timed out
          "truncation_rate": float,            # finish_reason == "length"
          "mean_tokens": float,                # mean generated tokens per sample
          "tokens_per_s": float | null,        # generated tokens / generation wall time (gen_s)
          "by_subject": {"<subject>": {"strict": {...}, "flexible": {...}}},
          "by_level":   {"<level>":   {"strict": {...}, "flexible": {...}}},   # "1".."5"
          "by_subject_level": {"<subject>": {"<level>": {"strict": {...}, "flexible": {...}}}},
          "maj@k":  {"k": int, "strict": float, "flexible": float},          # only when n > 1
          "pass@k": {"strict": {"<k>": float}, "flexible": {"<k>": float}}  # only when n > 1
        }
      }
    }

Accuracies are fractions in [0, 1]; ``ci`` is the Wilson 95% interval with one sample per problem.
With ``n > 1`` samples per problem, ``strict``/``flexible`` average every sample (that is pass@1) with
a CI clustered by problem (samples of one problem are not independent evidence), and maj@k / pass@k
are per problem. Subjects and
levels are absent when the task has none (GSM8K's subject is "GSM8K"; its level is null).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from harness.answers import equivalent
from harness.records import Run
from harness.stats import clustered_accuracy

log = logging.getLogger(__name__)

MODES = ("strict", "flexible")


def acc_block(samples: Sequence[dict], mode: str) -> dict:
    """``{"acc", "ci", "n", "correct"}`` for one mode over samples (``n`` counts samples).

    The CI is clustered by problem (:func:`harness.stats.clustered_accuracy`): Wilson with one sample
    per problem; with several, samples of one problem are not counted as independent evidence.
    """
    n = len(samples)
    k = sum(1 for s in samples if s.get(f"correct_{mode}"))
    if not n:
        return {"acc": 0.0, "ci": [0.0, 0.0], "n": 0, "correct": 0}
    by_problem: dict = defaultdict(list)
    for s in samples:
        by_problem[(s.get("task"), s.get("id"))].append(1.0 if s.get(f"correct_{mode}") else 0.0)
    acc, lo, hi = clustered_accuracy(list(by_problem.values()))
    return {"acc": acc, "ci": [lo, hi], "n": n, "correct": k}


def _both(samples: Sequence[dict]) -> dict:
    return {m: acc_block(samples, m) for m in MODES}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021) for one problem."""
    if k > n:
        raise ValueError(f"pass@k needs k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(samples: Sequence[dict], mode: str, answer_task: str) -> bool:
    """Majority vote over extracted answers, grouped by :func:`harness.answers.equivalent`.

    Samples without an answer do not vote; ties go to the group whose first member came first
    (lowest sample_idx). The vote is correct when the winning group's samples are graded correct.
    """
    groups: list[list[dict]] = []
    for s in sorted(samples, key=lambda r: int(r.get("sample_idx", 0))):
        ans = s.get(f"extracted_{mode}")
        if ans is None:
            continue
        for g in groups:
            if equivalent(str(ans), str(g[0][f"extracted_{mode}"]), answer_task):
                g.append(s)
                break
        else:
            groups.append([s])
    if not groups:
        return False
    best = max(groups, key=len)  # max keeps the first of equal lengths
    return bool(best[0].get(f"correct_{mode}"))


def _group(samples: Iterable[dict], key) -> dict:
    out: dict = defaultdict(list)
    for s in samples:
        out[key(s)].append(s)
    return out


def summarize_task(samples: Sequence[dict], answer_task: str = "math") -> dict:
    """Metrics for one task's samples (see the module docstring)."""
    n = len(samples)
    res: dict = _both(samples)
    problems = _group(samples, lambda s: str(s["id"]))
    res["n_problems"] = len(problems)
    res["no_answer_rate"] = sum(s.get("status_strict") == "no_answer" for s in samples) / n if n else 0.0
    res["no_answer_rate_flexible"] = (
        sum(s.get("status_flexible") == "no_answer" for s in samples) / n if n else 0.0
    )
    res["timeout"] = sum(1 for s in samples if "timeout" in (s.get("status_strict"), s.get("status_flexible")))
    res["truncation_rate"] = sum(1 for s in samples if s.get("finish_reason") == "length") / n if n else 0.0
    toks = [int(s.get("tokens") or 0) for s in samples]
    res["mean_tokens"] = sum(toks) / n if n else 0.0
    secs = sum(float(s.get("gen_s") or 0.0) for s in samples)
    res["tokens_per_s"] = round(sum(toks) / secs, 2) if secs > 0 else None

    subjects = _group((s for s in samples if s.get("subject") not in (None, "GSM8K")), lambda s: s["subject"])
    if subjects:
        res["by_subject"] = {k: _both(v) for k, v in sorted(subjects.items())}
    levels = _group((s for s in samples if s.get("level") is not None), lambda s: str(s["level"]))
    if levels:
        res["by_level"] = {k: _both(v) for k, v in sorted(levels.items())}
    if subjects and levels:
        res["by_subject_level"] = {
            subj: {
                k: _both(v)
                for k, v in sorted(_group((s for s in rows if s.get("level") is not None),
                                          lambda s: str(s["level"])).items())
            }
            for subj, rows in sorted(subjects.items())
        }

    k = max((len(v) for v in problems.values()), default=1)
    if k > 1:
        res["maj@k"] = {"k": k}
        res["pass@k"] = {}
        ks = sorted({1, k} | {2**j for j in range(1, 12) if 2**j < k})
        for mode in MODES:
            res["maj@k"][mode] = sum(
                majority_correct(v, mode, answer_task) for v in problems.values()
            ) / len(problems)
            res["pass@k"][mode] = {
                str(kk): sum(
                    pass_at_k(len(v), sum(bool(s.get(f"correct_{mode}")) for s in v), kk)
                    for v in problems.values() if len(v) >= kk
                ) / max(1, sum(1 for v in problems.values() if len(v) >= kk))
                for kk in ks
            }
    return res


def summarize(run: Run) -> dict:
    """Aggregate a loaded run into the results.json dict (schema in the module docstring).

    Args:
        run: from :func:`harness.records.load_run`.

    Returns:
        ``{"manifest", "n_bad_lines", "tasks": {task: metrics}}``.
    """
    families: Mapping[str, str] = run.manifest.get("answer_tasks") or {}
    by_task = _group(run.samples, lambda s: s["task"])
    order = list(run.manifest.get("tasks") or {}) + sorted(set(by_task) - set(run.manifest.get("tasks") or {}))
    tasks = {t: summarize_task(by_task[t], families.get(t, t)) for t in order if t in by_task}
    return {"manifest": run.manifest, "n_bad_lines": run.n_bad_lines, "tasks": tasks}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _acc_ci(b: Mapping) -> str:
    return f"{_pct(b['acc'])} [{_pct(b['ci'][0])}, {_pct(b['ci'][1])}]"


def _cell(b: Mapping | None) -> str:
    return "" if not b else f"{_pct(b['strict']['acc'])} ({b['strict']['n']})"


def format_tables(results: Mapping, tablefmt: str = "github") -> str:
    """Render results as text tables: one overview, then per-subject x level and per-level tables
    for tasks that have subjects/levels (Skywork-Math Tables 2 and 12 style; cells "acc% (n)")."""
    from tabulate import tabulate

    m = results.get("manifest") or {}
    prompt = m.get("prompt") or {}
    pname = prompt.get("name") if isinstance(prompt, Mapping) and "name" in prompt else prompt
    lines = [
        (f"model: {m.get('model')}  backend: {m.get('backend')}  prompt: {pname}  n_shot: {m.get('n_shot')}  "
         f"commit: {m.get('commit')}  date: {m.get('date')}"),
    ]
    tasks: Mapping = results.get("tasks") or {}
    multi = any("maj@k" in r for r in tasks.values())
    headers = ["task", "version", "strict % [95% CI]", "flexible % [95% CI]", "n", "no-answer %", "timeout",
               "truncated %", "mean tokens", "tokens/s"]
    if multi:
        headers += ["maj@k strict %", "pass@k strict %"]
    rows = []
    for t, r in tasks.items():
        row = [t, (m.get("tasks") or {}).get(t, ""), _acc_ci(r["strict"]), _acc_ci(r["flexible"]),
               r["strict"]["n"], _pct(r["no_answer_rate"]), r["timeout"], _pct(r["truncation_rate"]),
               f"{r['mean_tokens']:.1f}", "-" if r["tokens_per_s"] is None else f"{r['tokens_per_s']:.1f}"]
        if multi:
            if "maj@k" in r:
                k = r["maj@k"]["k"]
                row += [f"{_pct(r['maj@k']['strict'])} (k={k})", f"{_pct(r['pass@k']['strict'][str(k)])} (k={k})"]
            else:
                row += ["", ""]
        rows.append(row)
    lines += ["", tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True)]
    for t, r in tasks.items():
        subj = r.get("by_subject")
        lev = r.get("by_level")
        if subj:
            levels = sorted(lev or {}, key=lambda x: int(x) if x.isdigit() else 99)
            sl = r.get("by_subject_level") or {}
            hdr = ["subject", "n", "strict %", "flexible %"] + [f"L{x} strict % (n)" for x in levels]
            body = [[s, b["strict"]["n"], _pct(b["strict"]["acc"]), _pct(b["flexible"]["acc"])]
                    + [_cell((sl.get(s) or {}).get(x)) for x in levels] for s, b in subj.items()]
            body.append(["All", r["strict"]["n"], _pct(r["strict"]["acc"]), _pct(r["flexible"]["acc"])]
                        + [_cell(lev[x]) for x in levels])
            lines += ["", f"{t}: accuracy by subject and level", tabulate(body, headers=hdr, tablefmt=tablefmt,
                                                                          disable_numparse=True)]
        if lev:
            body = [[f"Level {x}", b["strict"]["n"], _acc_ci(b["strict"]), _acc_ci(b["flexible"])]
                    for x, b in sorted(lev.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 99)]
            lines += ["", f"{t}: accuracy by level",
                      tabulate(body, headers=["level", "n", "strict % [95% CI]", "flexible % [95% CI]"],
                               tablefmt=tablefmt, disable_numparse=True)]
    return "\n".join(lines)
