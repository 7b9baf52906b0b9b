"""Reward throughput on a GRPO-shaped batch, and verdict flips under threads, a process pool and load.

The batch (seeded): ``--prompts`` prompts x ``--group`` completions (default 256 x 8 = 2,048), half
MATH and half GSM8K test golds from ``$HARNESS_DATA_DIR``; each completion is a reasoning-length output
(a ``<think>`` block of 1,000-8,000 characters with tentative boxes and numbers, then the final answer):
correct, wrong (a perturbed gold), no answer, or cut inside the block; the 8 completions of a prompt
share its gold, as in GRPO. ``--hostile`` of the items (default 1%) are replaced by the hostile answers
and outputs of ``benchmarks/grading_budget.py`` (MATH rules, their own golds).

Graders, each on the whole batch:

- ours in-process: ``harness.answers.grade_batch(..., workers=None)``;
- ours with 2 workers: ``grade_batch(..., pool=GradingPool(2))``, once with the pool's start in the call
  (cold), then ``--repeat`` runs each on a started pool whose workers have seen nothing (the slowest is
  what "every time" means);

Every timed run of ours starts from empty engine caches (a new GRPO step brings completions never seen).
- Math-Verify as TRL's ``accuracy_reward`` (and open-r1) call it, serially in the main thread:
  ``parse(gold, parsing_timeout=10)``, ``parse(completion, [LatexExtractionConfig(NormalizationConfig(units=True),
  boxed_match_priority=0, try_extract_without_anchor=False)], "first_match", parsing_timeout=10)``,
  ``verify(gold, answer, timeout_seconds=5)`` (signal-based timeouts: each pool worker runs it in its
  main thread, where they work);
- Math-Verify in a process pool of 2 (``concurrent.futures.ProcessPoolExecutor``, spawn, chunks of 16,
  started and warmed before timing).

Per-item p50/p99 are timed item by item in the serial runs (a pool's per-item cost is the same work;
its figure is the batch wall time). Verdict flips: the statuses of ours in-process are the reference;
the same batch (and the 36-case hostile corpus) graded by the pool, from 1, 4 and 16 threads (the
items split among the threads, all running at once, as a trainer's thread pool calls a reward), and
while 2 CPU-hog processes run; each differing status is a flip.

The machine's load average is printed and recorded at start and end: numbers from a busy machine are
noisy (rerun on a quiet one for the figures that count).

Usage: python3 benchmarks/reward_throughput.py [--prompts 256] [--group 8] [--repeat 3] [--quick]
Writes benchmarks/results/reward_throughput.md and .json.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.grading_budget import corpus as hostile_answers
from benchmarks.grading_budget import outputs as hostile_outputs
from harness.answers import ENGINE_VERSION, GradingPool, grade, grade_batch
from harness.answers.rules import as_rules
from harness.io import atomic_write_text, git_commit, now_iso

# -- the batch -------------------------------------------------------------------------------------


def _think(rng: random.Random, size: int) -> str:
    parts, n = [], 0
    while n < size:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        step = rng.choice([
            f"Let me try $x = {a}$: then $x^2 - {b} = {a * a - b}$, which does not fit. ",
            f"Hmm, maybe the answer is $\\boxed{{{a + b}}}$? Wait, I should check that again. ",
            f"We have $\\frac{{{a}}}{{{b}}}$ here, and {a} + {b} = {a + b}. ",
            "Alternatively, consider the symmetric case and count again. ",
        ])
        parts.append(step)
        n += len(step)
    return "".join(parts)


def _perturb(gold: str) -> str:
    return str(int(gold) + 1) if gold.lstrip("-").isdigit() else gold + "+1"


def build_batch(prompts: int, group: int, hostile: float, seed: int = 0) -> list[dict]:
    """Items ``{"task", "output", "gold", "kind"}``, grouped by prompt (a group shares its gold)."""
    from harness.data import load_task

    rng = random.Random(seed)
    golds = {t: [p.answer if isinstance(p.answer, str) else p.answer[0] for p in load_task(t)]
             for t in ("math", "gsm8k")}
    items = []
    for k in range(prompts):
        task = "math" if k % 2 == 0 else "gsm8k"
        gold = rng.choice(golds[task])
        for _ in range(group):
            kind = rng.choices(["correct", "wrong", "no_answer", "cut"], [45, 30, 15, 10])[0]
            think = "<think>" + _think(rng, rng.randint(1000, 8000))
            answer = {"correct": gold, "wrong": _perturb(gold)}.get(kind)
            if kind == "cut":
                output = think
            elif answer is None:
                output = think + "</think>\nI could not finish this one."
            else:
                output = think + f"</think>\nPutting it together, the answer is $\\boxed{{{answer}}}$."
            items.append({"task": task, "output": output, "gold": gold, "kind": kind})
    hostile_cases = [(n, f"The answer is $\\boxed{{{a}}}$.", g) for n, a, g in hostile_answers()]
    hostile_cases += hostile_outputs()
    n_hostile = round(len(items) * hostile)
    for j, i in enumerate(rng.sample(range(len(items)), n_hostile)):
        name, output, gold = hostile_cases[j % len(hostile_cases)]
        items[i] = {"task": "math", "output": "<think>" + _think(rng, 1000) + "</think>\n" + output, "gold": gold,
                    "kind": f"hostile: {name}"}
    return items


# -- graders ---------------------------------------------------------------------------------------


def ours_batch(items: list[dict], workers: int | None = None, pool: GradingPool | None = None) -> list[str]:
    """Statuses of the whole batch through grade_batch, one call per task (what a reward adapter does)."""
    out: list[str | None] = [None] * len(items)
    for task in ("math", "gsm8k"):
        idx = [i for i, it in enumerate(items) if it["task"] == task]
        got = grade_batch([items[i]["output"] for i in idx], [items[i]["gold"] for i in idx], task, workers=workers,
                          pool=pool)
        for i, g in zip(idx, got):
            out[i] = g.status
    return out  # type: ignore[return-value]


def _clear_caches() -> None:
    """Empty the engine's memo caches (the ones benchmarks/grading_budget.py clears; absent ones skipped)."""
    from harness.answers import equiv, values

    for mod, name in ((equiv, "_prepare"), (equiv, "_parse"), (values, "_exact_cached_impl"), (values, "_free"),
                      (values, "_evaluable")):
        cached = getattr(mod, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def ours_item(it: dict) -> str:
    return grade(it["output"], it["gold"], it["task"]).status


_MV_CONFIG = None


def mv_item(it: dict) -> float:
    """Math-Verify exactly as TRL's accuracy_reward calls it (main thread: timeouts on)."""
    global _MV_CONFIG
    from math_verify import LatexExtractionConfig, parse, verify

    if _MV_CONFIG is None:
        from latex2sympy2_extended import NormalizationConfig

        logging.getLogger("math_verify").setLevel(logging.CRITICAL)
        _MV_CONFIG = [LatexExtractionConfig(normalization_config=NormalizationConfig(units=True),
                                            boxed_match_priority=0, try_extract_without_anchor=False)]
    gold = parse(f"$\\boxed{{{it['gold']}}}$", parsing_timeout=10)
    if not gold:
        return float("nan")
    answer = parse(it["output"], extraction_config=_MV_CONFIG, extraction_mode="first_match", parsing_timeout=10)
    return float(verify(gold, answer, timeout_seconds=5))


def _timed(fn, items: list[dict]) -> tuple[list, list[float], float]:
    results, times = [], []
    t0 = time.perf_counter()
    for it in items:
        t = time.perf_counter()
        results.append(fn(it))
        times.append(time.perf_counter() - t)
    return results, times, time.perf_counter() - t0


def _pct(times: list[float], q: float) -> float:
    s = sorted(times)
    return s[min(len(s) - 1, int(q * len(s)))]


# -- flips -----------------------------------------------------------------------------------------


def threaded(items: list[dict], n: int) -> list[str]:
    """The items split among ``n`` threads that all grade at once (in-process)."""
    out: list[str | None] = [None] * len(items)
    start = threading.Barrier(n)

    def run(k: int) -> None:
        start.wait()
        for i in range(k, len(items), n):
            out[i] = ours_item(items[i])

    ts = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out  # type: ignore[return-value]


def _hog(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


class CpuHog:
    """``n`` busy processes for the duration of a ``with`` block."""

    def __init__(self, n: int = 2) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.procs = [ctx.Process(target=_hog, args=(self.stop,), daemon=True) for _ in range(n)]

    def __enter__(self) -> CpuHog:
        for p in self.procs:
            p.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(timeout=30)


def flips(ref: list[str], got: list[str], items: list[dict]) -> tuple[int, list[str]]:
    diff = [f"{items[i]['kind']}: {r} -> {g}" for i, (r, g) in enumerate(zip(ref, got)) if r != g]
    return len(diff), diff


# -- the run ---------------------------------------------------------------------------------------


def run(prompts: int, group: int, hostile: float, repeat: int, skip_mv: bool) -> dict:
    from tabulate import tabulate

    load_start = os.getloadavg()
    print(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} "
          f"on {os.cpu_count()} CPUs", flush=True)
    items = build_batch(prompts, group, hostile)
    n = len(items)
    chars = [len(it["output"]) for it in items]
    rows, res = [], {}

    # every timed run starts from empty engine caches (a new GRPO step brings completions never seen)
    _clear_caches()
    ref, times, wall = _timed(ours_item, items)  # per item; the reference statuses
    in_walls = []
    for _ in range(repeat):
        _clear_caches()
        t0 = time.perf_counter()
        ours_batch(items, None)
        in_walls.append(time.perf_counter() - t0)
    res["ours_in_process"] = {"wall_s": statistics.median(in_walls), "wall_max_s": max(in_walls),
                              "samples_per_s": n / statistics.median(in_walls), "p50_ms": _pct(times, .5) * 1e3,
                              "p99_ms": _pct(times, .99) * 1e3, "max_ms": max(times) * 1e3, "runs": in_walls}
    print(f"ours in-process: {', '.join(f'{w:.2f}' for w in in_walls)} s", flush=True)

    t0 = time.perf_counter()
    with GradingPool(2) as pool:  # cold: the call starts the pool
        ours_batch(items, pool=pool)
        cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        with GradingPool(2) as pool:  # a started pool whose workers have seen nothing
            pool.grade_pairs([(f"$\\boxed{{{k}}}$", "1") for k in range(8)], as_rules("math"), "strict", 60.0)
            t0 = time.perf_counter()
            ours_batch(items, pool=pool)
            warm.append(time.perf_counter() - t0)
    res["ours_workers_2"] = {"wall_s": statistics.median(warm), "wall_max_s": max(warm), "cold_wall_s": cold,
                             "samples_per_s": n / statistics.median(warm), "runs": warm}
    print(f"ours workers=2: cold {cold:.2f} s, warm {', '.join(f'{w:.2f}' for w in warm)} s", flush=True)

    if not skip_mv:
        mv, mv_times, mv_wall = _timed(mv_item, items)
        res["math_verify_serial"] = {"wall_s": mv_wall, "samples_per_s": n / mv_wall,
                                     "p50_ms": _pct(mv_times, .5) * 1e3, "p99_ms": _pct(mv_times, .99) * 1e3,
                                     "max_ms": max(mv_times) * 1e3}
        print(f"Math-Verify serial: {mv_wall:.2f} s", flush=True)
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            list(ex.map(mv_item, items[:4]))  # start and warm both workers before timing
            t0 = time.perf_counter()
            mv_pooled = list(ex.map(mv_item, items, chunksize=16))
            mv_pool_wall = time.perf_counter() - t0
        res["math_verify_pool_2"] = {"wall_s": mv_pool_wall, "samples_per_s": n / mv_pool_wall}
        print(f"Math-Verify pool of 2: {mv_pool_wall:.2f} s", flush=True)
        agree = sum((s == "correct") == (v == 1.0) for s, v in zip(ref, mv_pooled))
        res["math_verify_agreement"] = agree / n

    for name, key, per_item in [("ours, in-process (median of runs)", "ours_in_process", True),
                                ("ours, workers=2 (started pool; median of runs)", "ours_workers_2", False),
                                ("Math-Verify, serial (TRL accuracy_reward)", "math_verify_serial", True),
                                ("Math-Verify, process pool of 2", "math_verify_pool_2", False)]:
        if key not in res:
            continue
        r = res[key]
        rows.append([name, f"{r['samples_per_s']:,.0f}", f"{r['p50_ms']:.2f}" if per_item else "-",
                     f"{r['p99_ms']:.1f}" if per_item else "-", f"{r['wall_s']:.2f}"
                     + (f" (max {r['wall_max_s']:.2f})" if "wall_max_s" in r else "")
                     + (f" (cold {r['cold_wall_s']:.2f})" if "cold_wall_s" in r else "")])
    ratio = None
    if "math_verify_pool_2" in res:
        ratio = res["ours_workers_2"]["samples_per_s"] / res["math_verify_pool_2"]["samples_per_s"]
        res["speedup_pool_2_vs_math_verify_pool_2"] = ratio

    # verdict flips against the in-process reference
    hostile_items = [{"task": "math", "output": f"The answer is $\\boxed{{{a}}}$.", "gold": g, "kind": f"hostile: {nm}"}
                     for nm, a, g in hostile_answers()]
    hostile_items += [{"task": "math", "output": o, "gold": g, "kind": f"hostile: {nm}"} for nm, o, g in hostile_outputs()]
    _clear_caches()
    hostile_ref = [ours_item(it) for it in hostile_items]

    def pooled(its: list[dict]) -> list[str]:
        with GradingPool(2) as pool:  # fresh workers: no cache of an earlier condition
            return ours_batch(its, pool=pool)

    conditions = {
        "pool (workers=2)": pooled,
        "1 thread": lambda its: threaded(its, 1),
        "4 threads": lambda its: threaded(its, 4),
        "16 threads": lambda its: threaded(its, 16),
        "in-process, 2 CPU hogs running": lambda its: [ours_item(it) for it in its],
        "pool (workers=2), 2 CPU hogs running": pooled,
    }
    flip_rows, res["flips"] = [], {}
    for cond, fn in conditions.items():
        cells = []
        for label, its, r in (("batch", items, ref), ("hostile corpus", hostile_items, hostile_ref)):
            _clear_caches()  # each condition grades from empty caches, as the reference did
            if "hogs" in cond:
                with CpuHog(2):
                    got = fn(its)
            else:
                got = fn(its)
            k, diff = flips(r, got, its)
            cells.append(k)
            res["flips"][f"{cond} / {label}"] = {"flips": k, "items": len(its), "changed": diff[:20]}
        flip_rows.append([cond, f"{cells[0]} of {n}", f"{cells[1]} of {len(hostile_items)}"])
        print(f"flips, {cond}: {cells[0]} (batch), {cells[1]} (hostile corpus)", flush=True)

    load_end = os.getloadavg()
    kinds: dict[str, int] = {}
    for it in items:
        k = "hostile" if it["kind"].startswith("hostile") else it["kind"]
        kinds[k] = kinds.get(k, 0) + 1
    statuses: dict[str, int] = {}
    for s in ref:
        statuses[s] = statuses.get(s, 0) + 1
    res.update(
        items=n, prompts=prompts, group=group, hostile_fraction=hostile, kinds=kinds, statuses=statuses,
        chars_median=statistics.median(chars), chars_max=max(chars), engine=ENGINE_VERSION, commit=git_commit(ROOT),
        date=now_iso(), python=sys.version.split()[0], cpus=os.cpu_count(), load_start=load_start, load_end=load_end,
    )
    table = tabulate(rows, headers=["grader", "samples/s", "p50 ms/item", "p99 ms/item", "batch wall s"],
                     tablefmt="github", disable_numparse=True)
    ftable = tabulate(flip_rows, headers=["condition", "batch flips", "hostile-corpus flips"], tablefmt="github",
                      disable_numparse=True)
    target_wall = res["ours_workers_2"]["wall_max_s"]
    lines = [
        "# Reward throughput: a GRPO-shaped batch",
        "",
        f"{n:,} completions ({prompts} prompts x {group}; MATH and GSM8K test golds, a group shares its gold; "
        f"think blocks of 1-8k characters, median output {statistics.median(chars):,.0f} characters; "
        f"{kinds.get('hostile', 0)} hostile outputs from benchmarks/grading_budget.py). Item kinds: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + ". Our statuses: "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) + ".",
        "",
        f"Engine {ENGINE_VERSION}; commit {res['commit']}; {res['date']}; python {res['python']}; "
        f"{os.cpu_count()} CPUs; load average {load_start[0]:.2f} at start, {load_end[0]:.2f} at end"
        + (" (a busy machine: rerun on a quiet one for figures that count)." if max(load_start[0], load_end[0]) > 1.0
           else "."),
        "",
        table,
        "",
        f"- Whole batch with workers=2: {target_wall:.2f} s at worst over {repeat} runs on a started pool whose "
        f"workers had seen nothing, engine caches empty ({'within' if target_wall <= 3 else 'OVER'} the 3 s target); "
        f"a call that also starts the pool: {cold:.2f} s.",
    ]
    if ratio is not None:
        lines.append(f"- Ours with workers=2 vs Math-Verify in a pool of 2: {ratio:.1f}x the throughput "
                     f"({'meets' if ratio >= 30 else 'below'} the 30x target). Agreement on correct/not: "
                     f"{res['math_verify_agreement']:.1%}.")
    lines += ["", "## Verdict flips against ours in-process (0 is the target)", "", ftable, ""]
    changed = [f"- {k}: " + "; ".join(v["changed"][:6]) for k, v in res["flips"].items() if v["flips"]]
    if changed:
        lines += ["Changed statuses (first few per condition):", "", *changed, ""]
    res["report"] = "\n".join(lines)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=256, help="prompts in the batch (half MATH, half GSM8K)")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt")
    ap.add_argument("--hostile", type=float, default=0.01, help="fraction of hostile outputs")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of ours (in-process and pooled)")
    ap.add_argument("--skip-math-verify", action="store_true", help="ours only (minutes faster)")
    ap.add_argument("--quick", action="store_true", help="a 32 x 8 batch, for a smoke run (results not written)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reward_throughput.md"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    res = run(32 if args.quick else args.prompts, args.group, args.hostile, args.repeat, args.skip_math_verify)
    print()
    print(res["report"])
    if not args.quick:
        atomic_write_text(args.out, res["report"])
        atomic_write_text(Path(args.out).with_suffix(".json"),
                          json.dumps({k: v for k, v in res.items() if k != "report"}, indent=1, default=str) + "\n")
        print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")


if __name__ == "__main__":
    main()
