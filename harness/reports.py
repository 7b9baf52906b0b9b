"""Aggregation of a run directory into ``results.json`` and printed tables.

``summarize(run)`` reads the graded samples of a :class:`harness.records.Run` and returns the
dict written to ``results.json``; ``format_tables(results)`` renders it with tabulate. Every figure
comes from :mod:`harness.metrics`; the leaderboard stores this same per-task block
(:func:`summarize_task`) in its records, and ``harness weak``, ``harness check`` and the loop compute
theirs with the same functions from the same samples, so they agree figure for figure
(``tests/test_agreement.py``). None of them reads ``results.json``: it is the run's summary for people
and other tools.

results.json schema (additive changes only)::

    {
      "manifest": {...},                       # the run's manifest.json, verbatim
      "n_bad_lines": int,                      # malformed samples.jsonl lines ignored
      "warnings": [str],                       # only when there is one: > 5% of a task's samples truncated
      "tasks": {
        "<task>": {
          "strict":   {"acc", "ci": [lo, hi], "n", "n_samples", "correct"},   # n counts problems
          "flexible": {...},
          "tol_strict": {...}, "tol_flexible": {...},   # only tasks graded with a numeric tolerance
          "judged": {...},                     # only judged runs: strict where the rules decided, else the judge
          "judge": {"samples", "verdicts": {"correct", "incorrect", "undecided"}, "reasons": {...},
                    "requests", "prompt_tokens", "tokens"},   # only judged runs (harness.judge)
          "n_problems": int, "n_samples": int,
          "statuses": {"strict": {"correct": int, "wrong": int, "no_answer": int, "timeout": int,
                                  "error": int, ...}, "flexible": {...}},
          "no_answer_rate": float,             # strict extraction found nothing
          "no_answer_rate_flexible": float,
          "timeout": int,                      # samples whose strict or flexible grading timed out
          "error": int,                        # samples whose strict or flexible grading raised (status error)
          "grading_backstop": int,             # samples whose grading hit the grader's CPU-time backstop (0 expected)
          "unclosed_think_rate": float | null, # outputs with an unclosed <think> (null: not recorded)
          "truncation_rate": float,            # finish_reason == "length"
          "mean_tokens": float,                # mean generated tokens per sample
          "tokens_per_s": float | null,        # generated tokens / generation wall time (gen_s)
          "by_subject": {"<subject>": {"strict": {...}, "flexible": {...}}},
          "by_level":   {"<level>":   {"strict": {...}, "flexible": {...}}},
          "by_subject_level": {"<subject>": {"<level>": {"strict": {...}, "flexible": {...}}}},
          "sampling": {"<mode>": {"k", "avg@k": {...}, "pass@k": {"<k>": {"acc", "ci", "n"}},
                                  "maj@k": {...}}},                     # only when n > 1
          "maj@k":  {"k": int, "strict": float, "flexible": float},   # only when n > 1 (older readers)
          "pass@k": {"strict": {"<k>": float}, "flexible": {"<k>": float}}
        }
      }
    }

Accuracies are fractions in [0, 1] over problems (:mod:`harness.metrics`): with one sample per problem
the CI is Wilson's; with ``n > 1`` samples per problem the accuracy is avg@k (the mean of per-problem
means) with a CI clustered by problem. An empty group is ``null``, never 0. A breakdown exists when
the samples carry the field: every recorded subject is a group (GSM8K's "GSM8K" too), levels likewise;
``by_subject_level`` holds the samples that have both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import cast

from harness import metrics
from harness.records import JUDGED, MODES, Run, Sample

log = logging.getLogger(__name__)


def _blocks(samples: Sequence[Sample], modes: Sequence[str]) -> dict:
    return {m: metrics.accuracy(samples, m).to_dict() for m in modes}


def summarize_task(samples: Sequence[Sample], answer_task: str = "math", *, judged: bool = False) -> dict:
    """Metrics for one task's samples (the per-task block of results.json, see the module docstring).

    Args:
        samples: the task's graded samples (raw samples.jsonl objects are parsed too).
        answer_task: the answer-rules family, for maj@k voting.
        judged: the run had a judge pass: add the ``judged`` accuracy (also per subject/level) and the
            ``judge`` counts.
    """
    samples = metrics.as_samples(samples)
    modes = metrics.modes_present(samples)
    shown = (*modes, JUDGED) if judged else modes  # judged: its own column, never mixed into the others
    res: dict = _blocks(samples, shown)
    if judged:
        res["judge"] = metrics.judge_counts(samples)
    res["n_problems"] = len(metrics.group(samples, "problem"))
    res["n_samples"] = len(samples)
    res["statuses"] = {m: metrics.status_counts(samples, m) for m in MODES}
    res["no_answer_rate"] = metrics.rate(samples, lambda s: s.status("strict") == "no_answer")
    res["no_answer_rate_flexible"] = metrics.rate(samples, lambda s: s.status("flexible") == "no_answer")
    res["timeout"] = metrics.either_status(samples, "timeout")
    res["error"] = metrics.either_status(samples, "error")
    res["grading_backstop"] = sum(1 for s in samples if s.grading_backstop)
    res["unclosed_think_rate"] = metrics.rate(samples, lambda s: s.unclosed_think)
    res["truncation_rate"] = metrics.rate(samples, lambda s: s.finish_reason == "length")
    toks = [s.tokens or 0 for s in samples]
    res["mean_tokens"] = sum(toks) / len(toks) if toks else None
    secs = sum(s.gen_s or 0.0 for s in samples)
    res["tokens_per_s"] = round(sum(toks) / secs, 2) if secs > 0 else None

    for name, by in (("by_subject", "subject"), ("by_level", "level")):
        groups = metrics.group(samples, by)
        if groups:
            res[name] = {str(k): _blocks(v, shown) for k, v in groups.items()}
    cells = metrics.group(samples, "subject_level")
    if cells:
        res["by_subject_level"] = {}
        for (subj, lvl), v in cells.items():
            res["by_subject_level"].setdefault(subj, {})[str(lvl)] = _blocks(v, shown)

    sampling = {m: metrics.sampling_metrics(samples, m, answer_task) for m in modes}
    if any(v is not None for v in sampling.values()):
        res["sampling"] = sampling
        exact = {m: cast(dict, sampling[m]) for m in MODES}  # several samples: every exact mode has them
        res["maj@k"] = {"k": exact["strict"]["k"], **{m: exact[m]["maj@k"]["acc"] for m in MODES}}
        res["pass@k"] = {m: {k: v["acc"] for k, v in exact[m]["pass@k"].items()} for m in MODES}
    return res


def summarize(run: Run) -> dict:
    """Aggregate a loaded run into the results.json dict (schema in the module docstring).

    Args:
        run: from :func:`harness.records.load_run`.

    Returns:
        ``{"manifest", "n_bad_lines", "tasks": {task: metrics}}``.
    """
    families: Mapping[str, str] = run.manifest.get("answer_tasks") or {}
    by_task = metrics.group(run.records, "task")
    order = list(run.manifest.get("tasks") or {}) + sorted(set(by_task) - set(run.manifest.get("tasks") or {}))
    judged = "judge" in run.manifest
    tasks = {t: summarize_task(by_task[t], families.get(t, t), judged=judged) for t in order if t in by_task}
    out = {"manifest": run.manifest, "n_bad_lines": run.n_bad_lines, "tasks": tasks}
    warning = truncation_warning(out)
    return out | ({"warnings": [warning]} if warning else {})


#: A task whose share of samples stopped at the token limit is above this gets the truncation warning.
TRUNCATION_WARN = 0.05


def truncation_warning(results: Mapping) -> str | None:
    """One warning for every task where more than :data:`TRUNCATION_WARN` of the samples stopped at the
    token limit (their answers are cut off: the run reads as a weaker model than it is), else None."""
    over = [(t, r["truncation_rate"]) for t, r in (results.get("tasks") or {}).items()
            if (r.get("truncation_rate") or 0) > TRUNCATION_WARN]
    if not over:
        return None
    limit = ((results.get("manifest") or {}).get("sampling") or {}).get("max_new_tokens")
    rates = ", ".join(f"{t} {rate:.1%}" for t, rate in over)
    return (f"WARNING: samples stopped at the token limit{f' ({limit} tokens)' if limit else ''} in more than "
            f"{TRUNCATION_WARN:.0%} of a task ({rates}); their answers are cut off and graded as they are. "
            "Raise --max-new-tokens (reasoning models need several thousand).")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _acc_ci(b: Mapping | None) -> str:
    """``acc [lo, hi] ±half`` in percent (the half-width says how large a change is noise)."""
    if not b or b.get("acc") is None:
        return "-"
    lo, hi = b["ci"]
    return f"{_pct(b['acc'])} [{_pct(lo)}, {_pct(hi)}] ±{_pct(metrics.half_width(b['acc'], lo, hi))}"


def _acc_pm(b: Mapping | None) -> str:
    if not b or b.get("acc") is None:
        return "-"
    lo, hi = b["ci"]
    return f"{_pct(b['acc'])} ±{_pct(metrics.half_width(b['acc'], lo, hi))}"


def _cell(b: Mapping | None) -> str:
    return "" if not b else f"{_pct(b['strict']['acc'])} ({b['strict']['n']})"


def level_order(x: str):
    """Sort key of level labels: numeric levels in order, then the rest by name."""
    return (0, int(x), "") if x.isdigit() else (1, 0, x)


def _overview(results: Mapping, tablefmt: str) -> str:
    from tabulate import tabulate

    m = results.get("manifest") or {}
    tasks: Mapping = results.get("tasks") or {}
    multi = any("sampling" in r for r in tasks.values())
    tol = any("tol_strict" in r or "tol_flexible" in r for r in tasks.values())
    think = any(r.get("unclosed_think_rate") is not None for r in tasks.values())
    judged = any(JUDGED in r for r in tasks.values())
    avg = " (avg@k)" if multi else ""
    headers = ["task", "version", f"strict{avg} % [95% CI] ±", f"flexible{avg} % [95% CI] ±"]
    headers += ["tol strict % [95% CI] ±", "tol flexible % [95% CI] ±"] if tol else []
    headers += ["judged % [95% CI] ±"] if judged else []
    headers += ["n"] + (["k", "pass@k strict % ±", "maj@k strict % ±"] if multi else [])
    headers += ["no-answer %", "timeout", "error"] + (["unclosed think %"] if think else [])
    headers += ["truncated %", "mean tokens", "tokens/s"]
    rows = []
    for t, r in tasks.items():
        row = [t, (m.get("tasks") or {}).get(t, ""), _acc_ci(r["strict"]), _acc_ci(r["flexible"])]
        row += [_acc_ci(r.get("tol_strict")), _acc_ci(r.get("tol_flexible"))] if tol else []
        row += [_acc_ci(r.get(JUDGED))] if judged else []
        row += [r["strict"]["n"]]
        if multi:
            sm = (r.get("sampling") or {}).get("strict")
            row += [sm["k"], _acc_pm(sm["pass@k"][str(sm["k"])]), _acc_pm(sm["maj@k"])] if sm else [1, "", ""]
        row += [_pct(r.get("no_answer_rate")), r.get("timeout", 0), r.get("error", 0)]
        row += [_pct(r.get("unclosed_think_rate"))] if think else []
        row += [_pct(r.get("truncation_rate")),
                "-" if r.get("mean_tokens") is None else f"{r['mean_tokens']:.1f}",
                "-" if r.get("tokens_per_s") is None else f"{r['tokens_per_s']:.1f}"]
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True)


def _sampling_table(t: str, r: Mapping, tablefmt: str) -> str:
    from tabulate import tabulate

    samp = r["sampling"]
    modes = [m for m in samp if samp[m] is not None]
    k = samp["strict"]["k"]
    names = ["avg@k", *(f"pass@{x}" for x in samp["strict"]["pass@k"]), "maj@k"]
    body = []
    for name in names:
        row = [name]
        for m in modes:
            b = samp[m]["pass@k"][name[5:]] if name.startswith("pass@") else samp[m][name]
            row.append(_acc_ci(b))
        body.append(row)
    return f"{t}: {k} samples per problem (% [95% CI, clustered by problem] ±half-width)\n" + tabulate(
        body, headers=["metric", *(f"{m.replace('_', ' ')} %" for m in modes)], tablefmt=tablefmt, disable_numparse=True)


def judge_lines(results: Mapping) -> list[str]:
    """One line per judged task: how many samples the rules left to the judge, its verdicts, what it cost."""
    judge = (results.get("manifest") or {}).get("judge") or {}
    out = []
    for t, r in (results.get("tasks") or {}).items():
        j = r.get("judge")
        if j is None:
            continue
        v = j["verdicts"]
        out.append(f"{t}: judge {judge.get('model')} ({judge.get('prompt_version')}) decided {j['samples']} "
                   f"sample(s) the rules could not: {v.get('correct', 0)} correct, {v.get('incorrect', 0)} "
                   f"incorrect, {v.get('undecided', 0)} undecided; {j['requests']} requests, "
                   f"{j['prompt_tokens']} prompt + {j['tokens']} completion tokens")
    return [""] + out if out else []


def format_tables(results: Mapping, tablefmt: str = "github", *, warnings: bool = True) -> str:
    """Render results as text tables: an overview (every status counted; tolerant accuracy, judged accuracy,
    unclosed think rate and pass@k/maj@k columns when the run has them; a line per judged task), a sampling table for ``--n`` > 1, then
    per-subject x level and per-level tables for tasks whose samples carry them (Skywork-Math Tables 2
    and 12 style; cells "acc% (n)"). A task with a single subject and no levels (GSM8K) gets no subject
    table: it would repeat the overview row. The run's warnings (:func:`truncation_warning`) end the text
    unless ``warnings`` is False (a caller that prints more lines after the tables prints them last)."""
    from tabulate import tabulate

    m = results.get("manifest") or {}
    prompt = m.get("prompt") or {}
    pname = prompt.get("name") if isinstance(prompt, Mapping) and "name" in prompt else prompt
    lines = [
        (f"model: {m.get('model')}  backend: {m.get('backend')}  prompt: {pname}  n_shot: {m.get('n_shot')}  "
         f"commit: {m.get('commit')}  date: {m.get('date')}"),
        "", _overview(results, tablefmt),
    ]
    lines += judge_lines(results)
    for t, r in (results.get("tasks") or {}).items():
        if r.get("sampling"):
            lines += ["", _sampling_table(t, r, tablefmt)]
        subj = r.get("by_subject") or {}
        lev = r.get("by_level") or {}
        levels = sorted(lev, key=level_order)
        if len(subj) > 1 or (subj and levels):
            sl = r.get("by_subject_level") or {}
            hdr = ["subject", "n", "strict % ±", "flexible % ±"] + [f"L{x} strict % (n)" for x in levels]
            body = [[s, b["strict"]["n"], _acc_pm(b["strict"]), _acc_pm(b["flexible"])]
                    + [_cell((sl.get(s) or {}).get(x)) for x in levels] for s, b in subj.items()]
            body.append(["All", r["strict"]["n"], _acc_pm(r["strict"]), _acc_pm(r["flexible"])]
                        + [_cell(lev[x]) for x in levels])
            lines += ["", f"{t}: accuracy by subject and level", tabulate(body, headers=hdr, tablefmt=tablefmt,
                                                                          disable_numparse=True)]
        if lev:
            body = [[f"Level {x}", lev[x]["strict"]["n"], _acc_ci(lev[x]["strict"]), _acc_ci(lev[x]["flexible"])]
                    for x in levels]
            lines += ["", f"{t}: accuracy by level",
                      tabulate(body, headers=["level", "n", "strict % [95% CI] ±", "flexible % [95% CI] ±"],
                               tablefmt=tablefmt, disable_numparse=True)]
    if warnings and results.get("warnings"):
        lines += ["", *results["warnings"]]
    return "\n".join(lines)
