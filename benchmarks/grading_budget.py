"""The grader's work budget under hostile answers: the worst case of ``grade()`` in seconds.

Since engine 1.3 every comparison has a deterministic work budget (``DEFAULT_STEPS`` steps, see
docs/grading-budget.md), so a verdict never depends on time or load; the budget is calibrated so that
no answer costs more than ``--target`` seconds (0.5) on this machine. This script grades a corpus of
hostile answers built to make the work expensive or to hide it from the step count (towers of
powers, trigonometry of huge numbers, factorials and binomials at high precision, long lists of
irrational values, sums of many terms, chains of matrix products, deep nesting, 200,000-character
outputs, many boxes) and reports, per case, the status, the steps the comparison counted and the
slowest wall time and thread CPU time of ``--repeat`` runs (caches cleared before each run), then the
worst case against the target and the CPU-time backstop. A second pass grades every case from
``--threads`` threads at once and counts verdicts that differ from the serial ones (goal: 0).

Usage: python3 benchmarks/grading_budget.py [--target 0.5] [--repeat 3] [--threads 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.answers import ENGINE_VERSION, grade
from harness.answers.equiv import compare
from harness.answers.extract import extract
from harness.answers.types import BACKSTOP_S, DEFAULT_STEPS, AnswerTimeout, Budget
from harness.io import atomic_write_text, git_commit, now_iso

_SQRTS = ", ".join(f"\\sqrt{{{p}}}+\\sqrt{{{p + 2}}}" for p in range(2, 90, 2))  # 44 items
_ROOTS = ", ".join(f"\\sqrt[3]{{{k}}}+\\sqrt[5]{{{k + 1}}}" for k in range(2, 38))  # 36 items
_CUBES = ", ".join(f"\\sqrt[3]{{{k}}}" for k in range(2, 66))  # 64 items, the list cap
_MAT = "\\begin{pmatrix}" + " \\\\ ".join([" & ".join(["\\sqrt2"] * 6)] * 6) + "\\end{pmatrix}"
_M3 = "\\begin{pmatrix}" + " \\\\ ".join([" & ".join(["1"] * 3)] * 3) + "\\end{pmatrix}"
_LONG = "0." + "1" * 900  # a long digit string raises the working precision of every evaluation
_ROOTS80 = [f"\\sqrt{{{k}}}" for k in range(2, 82)]
_FRACS = "\\cdot".join(f"\\frac{{{p}^{{4000}}}}{{{q}^{{4000}}}}"
                        for p, q in [(3, 5), (7, 11), (13, 17), (19, 23), (29, 31), (37, 41)] * 3)


def corpus() -> list[tuple[str, str, str]]:
    """(name, answer, gold): each answer is boxed into a model-style output."""
    big_poly = "+".join(f"{k}x^{{{k * 37}}}" for k in range(1, 60))
    return [
        ("tan of 10^(10^5)", "\\tan(10^{10^{5}})", "1"),
        ("sin of 10^(10^5)", "\\sin(10^{10^{5}})", "0"),
        ("cos of e^(10^5)", "\\cos(e^{10^{5}})", "1"),
        ("tan of 10^1200", "\\tan(10^{1200})", "1"),
        ("sin of a 900-digit number", "\\sin(" + "7" * 900 + ")", "0"),
        ("tower 9^9^9^9", "9^{9^{9^{9}}}", "5"),
        ("10^10^10 vs 10^10^11", "10^{10^{10}}", "10^{10^{11}}"),
        ("2^100000 + 1 vs 2^100000", "2^{100000}+1", "2^{100000}"),
        ("1000000!", "1000000!", "5"),
        ("60000! vs 60001!/60001", "60000!", "\\frac{60001!}{60001}"),
        ("e^(10^10)", "e^{10^{10}}", "1"),
        ("binomial of huge", "\\binom{10^{100}}{50}", "7"),
        ("exp of 10^6", "\\exp(10^{6})", "1"),
        ("44 sums of square roots", _SQRTS, _SQRTS.replace("\\sqrt{2}+", "\\sqrt{2}-")),
        ("44 irrationals reversed", _SQRTS, ", ".join(reversed(_SQRTS.split(", ")))),
        ("36 cube+fifth roots, one off", _ROOTS, ", ".join(reversed(_ROOTS.replace("{37}", "{38}").split(", ")))),
        ("high-degree polynomial", big_poly, big_poly.replace("59x", "58x")),
        ("polynomial in 16 symbols", "+".join(f"{chr(97 + i)}^{{300}}" for i in range(16)),
         "+".join(f"{chr(97 + i)}^{{301}}" for i in range(16))),
        ("nested radicals", "\\sqrt{" * 38 + "2" + "}" * 38, "\\sqrt{" * 38 + "3" + "}" * 38),
        ("1,000-digit decimals", "0." + "3" * 998, "\\frac{1}{3}"),
        ("deep fraction near the cap", "\\frac{1}{" * 39 + "2" + "}" * 39, "1"),
        ("64 cube roots, one off", _CUBES, ", ".join(reversed(_CUBES.replace("{65}", "{66}").split(", ")))),
        ("64 cube roots vs 64 sums", _CUBES, _ROOTS + ", " + ", ".join(f"\\sqrt[3]{{{k}}}" for k in range(40, 68))),
        ("6x6 matrix product", _MAT + _MAT, _MAT.replace("\\sqrt2", "12")),
        ("6x6 matrix sum, one off", _MAT + "+" + _MAT, _MAT.replace("\\sqrt2", "2\\sqrt2", 35)),
        ("union of 30 intervals", "\\cup".join(f"[{k}, {k}.5)" for k in range(30)),
         "\\cup".join(f"[{k}, {k}.5]" for k in range(30))),
        ("logs of towers", "\\log_{2}(2^{2^{20}})", "2^{20}"),
        ("trig of degrees", "\\sin(" + "9" * 300 + "^\\circ)", "0"),
        # engine 1.3: work that a per-step clock check did not see
        ("gamma at 2,700 digits", "\\binom{\\frac12}{\\frac13}+" + _LONG, "\\binom{\\frac12}{\\frac14}"),
        ("60000! at 2,700 digits", "60000!+" + _LONG, "1"),
        ("binomial of 10^100000 choose 3", "\\binom{10^{100000}}{3}", "7"),
        ("59 sines at 1,000 digits", "+".join(f"\\sin {k}" for k in range(1, 60)) + "+0." + "1" * 500, "1"),
        ("e^sqrt2 at 2,700 digits", "e^{\\sqrt2}+" + _LONG, "e^{\\sqrt3}"),
        ("3x3 matrix to the 12th", _M3 * 12, _M3),
        ("fractions of 4000th powers", "x+" + _FRACS, "x+1"),
        ("sum of 10^9 terms", "\\sum_{k=1}^{10^9} k", "500000000500000000"),
        ("sum of 30,000 sines", "\\sum_{k=1}^{30000} \\sin k", "1"),
        ("product of 10^5 fractions", "\\prod_{k=1}^{100000} \\frac{k+1}{k}", "100001"),
        ("9999!! vs 5", "9999!!", "5"),
        ("80 square roots shuffled", ", ".join(_ROOTS80), ", ".join(_ROOTS80[1::2] + _ROOTS80[::2])),
        ("80 square roots, one off", ", ".join(_ROOTS80),
         ", ".join(reversed([r.replace("{81}", "{83}") for r in _ROOTS80]))),
        ("200 integers reversed", ", ".join(str(k) for k in range(200)), ", ".join(str(k) for k in range(199, -1, -1))),
        ("40 sums of sines shuffled", ", ".join(f"\\sin {k}+\\cos {k}" for k in range(1, 41)),
         ", ".join(f"\\cos {k}+\\sin {k}" for k in range(40, 0, -1))),
        ("17 symbols", "+".join(f"x_{{{i}}}^{{2}}" for i in range(17)), "+".join(f"x_{{{i}}}^{{3}}" for i in range(17))),
        # the most time per step found: a whole budget of them
        ("sines at 840 digits, a budget", "\\sum_{k=1}^{100000} \\sin k+0." + "1" * 400, "1"),
        ("k^sqrt2 at 840 digits, a budget", "\\sum_{k=1}^{100000} k^{\\sqrt2}+0." + "1" * 400, "1"),
    ]


def outputs() -> list[tuple[str, str, str]]:
    """Whole hostile outputs (extraction cost), graded as written."""
    boxes = ", ".join(f"\\boxed{{{k}}}" for k in range(2000))
    return [
        ("200k chars of braces", "{" * 200_000, "1"),
        ("200k chars of \\boxed{", "\\boxed{" * 28_000, "1"),
        ("2,000 boxes in a row", "So " + boxes, "1999"),
        ("200k chars of $ spans", "$1$ " * 50_000, "1"),
        ("200k chars of \\( spans", "\\(1 " * 50_000, "1"),
        ("200k chars of digits and commas", "1," * 100_000, "1"),
        ("think block then answer", "<think>" + "hmm, 2+2=4. " * 15_000 + "</think> $\\boxed{4}$", "4"),
        ("Final Answer sentences", "Final Answer: the value of $x$ is 3 and $y$ is 4. " * 3000, "3"),
    ]


def cases() -> list[tuple[str, str, str, str]]:
    """(name, whole output, gold, mode) of every hostile case."""
    out = [(n, f"The answer is $\\boxed{{{a}}}$.", g, "strict") for n, a, g in corpus()]
    return out + [(n, o, g, "flexible") for n, o, g in outputs()]


def _clear_caches() -> None:
    from harness.answers import equiv, values

    for cached in (equiv._prepare, equiv._parse, values._exact_cached_impl, values._free, values._evaluable):
        cached.cache_clear()


def steps_used(output: str, gold: str, mode: str) -> int | None:
    """Steps the comparison of ``grade(output, gold, "math", mode)`` counts (None: nothing extracted)."""
    answer = extract(output, "math", mode)
    if answer is None:
        return None
    budget = Budget(10**12)  # unlimited: how much the whole comparison would cost
    try:
        compare(answer, gold, "math", budget)
    except AnswerTimeout:
        pass
    return budget.used


def threaded_flips(todo: list[tuple[str, str, str, str]], serial: dict[str, str], threads: int) -> int:
    """Verdicts that differ from ``serial`` when every case is graded from ``threads`` threads at once
    (each thread grades the whole corpus, in its own order)."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    def work(seed: int) -> int:
        order = list(todo)
        random.Random(seed).shuffle(order)
        return sum(grade(o, g, "math", m).status != serial[n] for n, o, g, m in order)

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(work, range(threads)))


def run(target: float, repeat: int, threads: int) -> str:
    from tabulate import tabulate
    from tqdm import tqdm

    todo = cases()
    rows, worst, worst_cpu, serial = [], (0.0, ""), (0.0, ""), {}
    for name, output, gold, mode in tqdm(todo, desc="hostile answers", unit="case"):
        slowest = slowest_cpu = 0.0
        status = ""
        for _ in range(repeat):
            _clear_caches()
            t0, c0 = time.perf_counter(), time.thread_time()
            status = grade(output, gold, "math", mode).status
            slowest_cpu = max(slowest_cpu, time.thread_time() - c0)
            slowest = max(slowest, time.perf_counter() - t0)
        serial[name] = status
        steps = steps_used(output, gold, mode)
        rows.append([name, mode, status, "-" if steps is None else f"{steps:,}",
                     f"{slowest * 1000:,.1f}", f"{slowest_cpu * 1000:,.1f}"])
        worst = max(worst, (slowest, name))
        worst_cpu = max(worst_cpu, (slowest_cpu, name))
    flips = threaded_flips(todo, serial, threads) if threads > 1 else 0
    table = tabulate(rows, headers=["hostile case", "mode", "status", "steps counted", "slowest ms",
                                    "slowest CPU ms"], disable_numparse=True, tablefmt="github")
    verdict = "within" if worst[0] <= target else "OVER"
    return (f"# Grader work budget under hostile answers\n\n{len(todo)} cases, slowest of {repeat} runs each "
            f"(caches cleared); budget {DEFAULT_STEPS:,} steps, CPU backstop {BACKSTOP_S:g} s; engine "
            f"{ENGINE_VERSION}; commit {git_commit(ROOT)}; {now_iso()}; python {sys.version.split()[0]}. "
            f"\"steps counted\" is the whole comparison's cost without a limit (past {DEFAULT_STEPS:,} "
            f"the status is timeout).\n\n{table}\n\nWorst case: {worst[1]!r}, {worst[0] * 1000:,.1f} ms wall "
            f"({verdict} the {target} s target); worst thread CPU time: {worst_cpu[1]!r}, "
            f"{worst_cpu[0] * 1000:,.1f} ms ({worst_cpu[0] / BACKSTOP_S:.2f}x of the backstop).\n\n"
            f"Threads: the corpus graded by {threads} threads at once, each in its own order: "
            f"{flips} of {threads * len(todo)} verdicts differ from the serial run.\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", type=float, default=0.5, help="seconds no hostile case may exceed")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the slowest is reported")
    ap.add_argument("--threads", type=int, default=16, help="threads of the verdict-flip pass (1: skip it)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grading_budget.md"))
    args = ap.parse_args(argv)
    report = run(args.target, args.repeat, args.threads)
    print(report)
    atomic_write_text(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
