"""The grader's time budget under hostile answers: the worst case of ``grade()`` vs its budget.

Every comparison has a wall-clock budget (0.5 s by default) that the engine checks in its loops; a
single step between two checks must stay short, or one answer can run far past the budget (issue 14:
``\\tan(10^{10^{5}})`` took 0.98 s before it returned ``timeout``). This script grades a corpus of
hostile answers built to make each step expensive (towers of powers, trigonometry of huge numbers,
factorials, long lists of irrational values, deep nesting, 200,000-character outputs, many boxes,
matrices, polynomials of high degree) and reports, per case, the status and the slowest of
``--repeat`` runs (caches cleared before each run), then the worst case as a multiple of the budget.
Goal: worst case <= 1.2x the budget.

Usage: python3 benchmarks/grading_budget.py [--budget 0.5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.answers import ENGINE_VERSION, grade
from harness.io import atomic_write_text, git_commit, now_iso

_SQRTS = ", ".join(f"\\sqrt{{{p}}}+\\sqrt{{{p + 2}}}" for p in range(2, 90, 2))  # 44 items
_ROOTS = ", ".join(f"\\sqrt[3]{{{k}}}+\\sqrt[5]{{{k + 1}}}" for k in range(2, 38))  # 36 items
_CUBES = ", ".join(f"\\sqrt[3]{{{k}}}" for k in range(2, 66))  # 64 items, the list cap
_MAT = "\\begin{pmatrix}" + " \\\\ ".join([" & ".join(["\\sqrt2"] * 6)] * 6) + "\\end{pmatrix}"


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


def run(budget: float, repeat: int) -> str:
    from tabulate import tabulate
    from tqdm import tqdm

    from harness.answers import equiv, values

    cases = [(n, f"The answer is $\\boxed{{{a}}}$.", g, "strict") for n, a, g in corpus()]
    cases += [(n, o, g, "flexible") for n, o, g in outputs()]
    rows, worst = [], (0.0, "")
    for name, output, gold, mode in tqdm(cases, desc="hostile answers", unit="case"):
        slowest, status = 0.0, ""
        for _ in range(repeat):
            for cached in (equiv._prepare, equiv._parse, values._exact_cached_impl, values._free,
                           values._evaluable):
                cached.cache_clear()
            t0 = time.perf_counter()
            status = grade(output, gold, "math", mode, budget_s=budget).status
            slowest = max(slowest, time.perf_counter() - t0)
        rows.append([name, mode, status, f"{slowest * 1000:,.1f}", f"{slowest / budget:.2f}"])
        worst = max(worst, (slowest, name))
    table = tabulate(rows, headers=["hostile case", "mode", "status", "slowest ms", "x budget"],
                     disable_numparse=True, tablefmt="github")
    ratio = worst[0] / budget
    verdict = "within" if ratio <= 1.2 else "OVER"
    return (f"# Grader budget under hostile answers\n\n{len(cases)} cases, slowest of {repeat} runs each "
            f"(caches cleared), budget {budget} s; engine {ENGINE_VERSION}; commit {git_commit(ROOT)}; "
            f"{now_iso()}; python {sys.version.split()[0]}.\n\n{table}\n\nWorst case: {worst[1]!r}, "
            f"{worst[0] * 1000:,.1f} ms = {ratio:.2f}x the budget ({verdict} the 1.2x goal).\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=0.5, help="per-comparison budget in seconds")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the slowest is reported")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grading_budget.md"))
    args = ap.parse_args(argv)
    report = run(args.budget, args.repeat)
    print(report)
    atomic_write_text(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
