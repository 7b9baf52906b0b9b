"""What the judge cascade would send to a judge, on the grader benchmark's labelled pairs.

For every pair of ``benchmarks/grading.py`` (sets a-e, r, m; the same builders, the same seed) the strict
grade is computed and :func:`harness.judge.rules_undecided` says whether the rules decided it. Reported per
set: the share routed to the judge (its cost) and, among the pairs where the strict verdict disagrees with
the label (the rules' misses), the share routed (what a judge could fix); then the routing reasons, and the
time routing adds as a ratio to the strict grading time of the same pairs, in the same run.

Run: ``HARNESS_DATA_DIR=../shared/data python3 benchmarks/judge_routing.py --n 2000 --seed 0``
Writes ``benchmarks/results/judge_routing.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grading import build_items  # noqa: E402

from harness.answers import ENGINE_VERSION, grade  # noqa: E402
from harness.data import load_task  # noqa: E402
from harness.io import atomic_write_text, git_commit, now_iso  # noqa: E402
from harness.judge import PROMPT_VERSION, REASONS, rules_undecided  # noqa: E402


def run(n: int, seed: int, data_dir: str | None) -> str:
    from tabulate import tabulate

    probs = load_task("math", "test", data_dir_=data_dir)
    golds = [p.answer for p in probs if isinstance(p.answer, str) and p.answer.strip()]
    items = build_items(golds, n, seed)
    grade_s = route_s = 0.0
    rows: dict[str, Counter] = {}
    reasons: dict[str, Counter] = {}
    for it in items:
        t0 = time.perf_counter()
        g = grade(it.output, it.gold, it.task, "strict")
        t1 = time.perf_counter()
        why = rules_undecided(it.output, it.gold, g.extracted, g.status, it.task if it.task == "gsm8k" else "math")
        t2 = time.perf_counter()
        grade_s += t1 - t0
        route_s += t2 - t1
        miss = bool(g.correct) != it.expected
        c = rows.setdefault(it.set, Counter())
        c["pairs"] += 1
        c["routed"] += why is not None
        c["misses"] += miss
        c["misses routed"] += miss and why is not None
        if why is not None:
            reasons.setdefault(it.set, Counter())[why] += 1
    total = sum(rows.values(), Counter())
    body = []
    for name, c in [*sorted(rows.items()), ("all", total)]:
        body.append([name, c["pairs"], f"{c['routed']} ({100 * c['routed'] / c['pairs']:.1f}%)", c["misses"],
                     f"{c['misses routed']}" + (f" ({100 * c['misses routed'] / c['misses']:.0f}%)" if c["misses"] else "")])
    why_rows = [[name, *(reasons.get(name, Counter())[r] for r in REASONS)] for name in sorted(rows)]
    lines = [
        "# Judge routing on the grader benchmark",
        "",
        f"{len(items)} pairs of benchmarks/grading.py (--n {n}, seed {seed}); engine {ENGINE_VERSION}; judge prompt "
        f"{PROMPT_VERSION}; commit {git_commit()}; {now_iso()}; python {platform.python_version()}.",
        "Routed = `harness.judge.rules_undecided` names a reason (the pair would go to the judge). Misses = pairs "
        "where the strict verdict differs from the label (sets e and m are labelled for flexible extraction, so "
        "strict misses there include outputs without a final-answer marker).",
        "",
        tabulate(body, headers=["set", "pairs", "routed to the judge", "strict misses", "misses routed"],
                 tablefmt="github", disable_numparse=True),
        "",
        "Routing reasons per set:",
        "",
        tabulate(why_rows, headers=["set", *REASONS], tablefmt="github", disable_numparse=True),
        "",
        f"Routing time / strict grading time, same pairs, same run: {route_s / grade_s:.2f}x "
        f"({1e6 * route_s / len(items):.0f} us vs {1e6 * grade_s / len(items):.0f} us per pair).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "judge_routing.md"))
    args = ap.parse_args(argv)
    text = run(args.n, args.seed, args.data_dir)
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
