"""Grader benchmark: our engine vs Math-Verify vs lm-eval minerva_math / hendrycks_math, same pairs.

Every grader sees the same model-style outputs ("... The answer is $\\boxed{PRED}$.") and the same
gold answers (MATH test), through its own extraction and equivalence:

- ours: ``harness.answers.grade(output, gold, "math")`` (strict);
- Math-Verify: ``verify(parse("$\\boxed{gold}$"), parse(output))`` (main thread: it uses signals);
- lm-eval minerva_math: ``normalize_final_answer`` of the last box on both sides, then ``is_equiv``
  (sympy ``parse_latex``; needs antlr4-python3-runtime 4.11, see below);
- lm-eval hendrycks_math: last box of the output vs gold, ``is_equiv`` (string normalization).

Pair sets (label = expected verdict):
  a  gold vs itself, written as a model would                       -> equal
  b  gold vs a harmless rewrite (\\dfrac, \\left( \\right), spacing, \\text{} units, 0.5 vs \\frac12) -> equal
  c  gold vs the gold of another random problem                      -> equal only if the canonical
     strings match (spaces, \\dfrac, \\left/\\right removed); otherwise unequal
  d  gold vs a perturbed gold (one digit changed, or the sign flipped)  -> unequal

Reported per grader: pairs/second over all pairs and agreement with the label per set. Table printed
and written to benchmarks/results/grading.md with the run's provenance.

lm-eval's minerva utils assert antlr4 4.11 at import, while math-verify here uses 4.13. For true
numbers run in a venv that adds 4.11 (latex2sympy2_extended ships parsers for both):

    python3 -m venv --system-site-packages /tmp/mv && /tmp/mv/bin/pip install antlr4-python3-runtime==4.11.0
    HARNESS_DATA_DIR=../shared/data /tmp/mv/bin/python benchmarks/grading.py --n 2000

Without it the minerva column is marked "no sympy" (normalized-string equality only).

Usage: HARNESS_DATA_DIR=../shared/data python3 benchmarks/grading.py [--n PAIRS] [--seed S]
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.answers import ENGINE_VERSION, grade  # noqa: E402
from harness.data import get_task, load_task  # noqa: E402
from harness.io import atomic_write_text, git_commit, now_iso  # noqa: E402

SETS = {
    "a": "gold vs itself (model-written)",
    "b": "harmless rewrites",
    "c": "random other problem",
    "d": "perturbed (digit/sign)",
}


def wrap(ans: str) -> str:
    return f"Let me put it all together.\nThe answer is $\\boxed{{{ans}}}$."


# --- pair construction ----------------------------------------------------------------------------


def canonical(s: str) -> str:
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"\s+|\\!|\\,|\\ ", "", s)
    return re.sub(r"^[a-zA-Z]=", "", s)  # "x=3" states the value 3


def _rw_dfrac(g: str) -> str | None:
    return g.replace("\\frac", "\\dfrac") if "\\frac" in g and "\\dfrac" not in g else None


def _rw_left_right(g: str) -> str | None:
    if "\\left" in g or "(" not in g or g.count("(") != g.count(")"):
        return None
    return g.replace("(", "\\left(").replace(")", "\\right)")


def _rw_spacing(g: str) -> str | None:
    out = re.sub(r"\s*([+=<>])\s*", r" \1 ", g).strip()
    if out == g:
        out = g.replace("\\frac", "\\frac ") if "\\frac{" in g else None
    return out if out and out != g else None


def _rw_text_units(g: str) -> str | None:
    m = re.fullmatch(r"\\text\{\s*([A-Za-z ]+)\s*\}", g)
    if m:
        return m.group(1).strip()  # \text{odd} -> odd
    if re.fullmatch(r"-?\d+", g):
        return g + "\\text{ units}"
    return None


def _rw_thousands(g: str) -> str | None:
    if re.fullmatch(r"\d{4,}", g):
        s = f"{int(g):,}"
        return s.replace(",", "{,}") if len(g) % 2 else s  # 1{,}000 or 10,000
    return None


def _rw_frac_decimal(g: str) -> str | None:
    m = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", g) or re.fullmatch(r"(-?)\\frac(\d)(\d)", g)
    if m:
        sign, a, b = m.group(1), int(m.group(2)), int(m.group(3))
        d = b
        for p in (2, 5):
            while d % p == 0 and d > 1:
                d //= p
        if d == 1 and b:
            from decimal import Decimal

            return sign + format(Decimal(a) / Decimal(b), "f")
        if a < 10 and b < 10:
            return f"{sign}\\frac{a}{b}"  # \frac{1}{3} -> \frac13
        return None
    m = re.fullmatch(r"(-?)0\.(5|25|75|2|4|6|8)", g)
    if m:
        num, den = {"5": (1, 2), "25": (1, 4), "75": (3, 4), "2": (1, 5), "4": (2, 5), "6": (3, 5), "8": (4, 5)}[m.group(2)]
        return f"{m.group(1)}\\frac{{{num}}}{{{den}}}"
    return None


REWRITES: list[Callable[[str], str | None]] = [
    _rw_dfrac, _rw_left_right, _rw_spacing, _rw_text_units, _rw_frac_decimal, _rw_thousands,
]


def _perturb(g: str, rng: random.Random) -> str | None:
    digits = [i for i, c in enumerate(g) if c.isdigit()]
    if digits and rng.random() < 0.7:
        i = rng.choice(digits)
        new = rng.choice([d for d in "0123456789" if d != g[i]])
        if new == "0" and (i == 0 or not g[i - 1].isdigit()) and i + 1 < len(g) and g[i + 1].isdigit():
            new = "9"  # no leading zero (07 == 7)
        return g[:i] + new + g[i + 1 :]
    if not g or canonical(g).startswith(("0", "-0")) or "\\text" in g:  # -0 == 0
        return None
    return g[1:] if g.startswith("-") else "-" + g if not g.startswith(("(", "[", "\\{")) else None


def build_pairs(golds: list[str], n: int, seed: int) -> list[tuple[str, str, str, bool]]:
    """(set, gold, pred, expected_equal) tuples, about n/4 per set."""
    rng = random.Random(seed)
    per = max(1, n // 4)
    pairs: list[tuple[str, str, str, bool]] = []
    pool = golds[:]
    rng.shuffle(pool)
    pairs += [("a", g, g, True) for g in pool[:per]]
    count, i = 0, 0
    while count < per and i < 20 * len(pool):
        g = pool[i % len(pool)]
        i += 1
        options = [r for r in (rw(g) for rw in REWRITES) if r is not None]
        if options:
            pairs.append(("b", g, rng.choice(options), True))
            count += 1
    for _ in range(per):
        g, h = rng.choice(golds), rng.choice(golds)
        pairs.append(("c", g, h, canonical(g) == canonical(h)))
    count, i = 0, 0
    while count < per and i < 20 * len(pool):
        g = pool[i % len(pool)]
        i += 1
        p = _perturb(g, rng)
        if p is not None and canonical(p) != canonical(g):
            pairs.append(("d", g, p, False))
            count += 1
    return pairs


# --- graders ------------------------------------------------------------------------------------


def grader_ours() -> Callable[[str, str], bool]:
    return lambda output, gold: grade(output, gold, "math").correct


def grader_math_verify() -> Callable[[str, str], bool]:
    from math_verify import parse, verify

    def f(output: str, gold: str) -> bool:
        return bool(verify(parse(f"$\\boxed{{{gold}}}$"), parse(output)))

    return f


def _import_minerva():
    """lm-eval's minerva utils; asserts antlr4 4.11 at import. Returns (module, sympy_ok)."""
    import importlib
    import importlib.metadata as md

    ok = md.version("antlr4-python3-runtime").startswith("4.11")
    if ok:
        return importlib.import_module("lm_eval.tasks.minerva_math.utils"), True
    real = md.version
    md.version = lambda name: "4.11.0" if name == "antlr4-python3-runtime" else real(name)  # type: ignore
    try:
        return importlib.import_module("lm_eval.tasks.minerva_math.utils"), False
    finally:
        md.version = real  # type: ignore


def grader_minerva() -> tuple[str, Callable[[str, str], bool]]:
    mu, sympy_ok = _import_minerva()

    def f(output: str, gold: str) -> bool:
        box = mu.last_boxed_only_string(output)
        pred = mu.normalize_final_answer(mu.remove_boxed(box)) if box else "[invalidanswer]"
        ref = mu.normalize_final_answer(gold)
        try:
            return bool(mu.is_equiv(pred, ref))
        except ImportError:  # sympy's LaTeX parser needs antlr4 4.11
            return pred == ref

    return ("lm-eval minerva" if sympy_ok else "lm-eval minerva (no sympy: antlr4 != 4.11)"), f


def grader_hendrycks() -> Callable[[str, str], bool]:
    import importlib

    hu = importlib.import_module("lm_eval.tasks.hendrycks_math.utils")

    def f(output: str, gold: str) -> bool:
        box = hu.last_boxed_only_string(output)
        pred = hu.remove_boxed(box) if box else None
        return bool(hu.is_equiv(pred, gold))

    return f


# --- run ------------------------------------------------------------------------------------------


def run(n: int, seed: int, data_dir: str | None) -> str:
    from tabulate import tabulate
    from tqdm import tqdm

    probs = load_task("math", "test", data_dir_=data_dir)
    golds = [p.answer for p in probs if isinstance(p.answer, str) and p.answer.strip()]
    pairs = build_pairs(golds, n, seed)
    outputs = [wrap(pred) for _, _, pred, _ in pairs]
    minerva_name, minerva = grader_minerva()
    graders: list[tuple[str, Callable[[str, str], bool]]] = [
        ("mathharness (ours)", grader_ours()),
        ("Math-Verify", grader_math_verify()),
        (minerva_name, minerva),
        ("lm-eval hendrycks_math", grader_hendrycks()),
    ]
    rows = []
    speeds: dict[str, float] = {}
    for name, fn in graders:
        verdicts = []
        t0 = time.perf_counter()
        for (_, gold, _, _), out in tqdm(list(zip(pairs, outputs)), desc=name, unit="pair", leave=False):
            try:
                verdicts.append(fn(out, gold))
            except Exception as e:  # noqa: BLE001 - a peer grader crashing counts as "not equal"
                logging.debug("%s crashed on %r: %s", name, gold, e)
                verdicts.append(False)
        secs = time.perf_counter() - t0
        speeds[name] = len(pairs) / secs
        row = [name, f"{speeds[name]:,.0f}"]
        total_ok = 0
        for s in SETS:
            idx = [i for i, p in enumerate(pairs) if p[0] == s]
            ok = sum(verdicts[i] == pairs[i][3] for i in idx)
            total_ok += ok
            row.append(f"{100 * ok / max(len(idx), 1):.1f}")
        row.append(f"{100 * total_ok / len(pairs):.2f}")
        rows.append(row)
    ratio = speeds["mathharness (ours)"] / speeds["Math-Verify"]
    headers = ["grader", "pairs/s"] + [f"{k}: {v} (%)" for k, v in SETS.items()] + ["all (%)"]
    counts = {s: sum(1 for p in pairs if p[0] == s) for s in SETS}
    table = tabulate(rows, headers=headers, disable_numparse=True, tablefmt="github")
    head = (
        f"# Grader benchmark\n\n{len(pairs)} pairs ({', '.join(f'{k}={v}' for k, v in counts.items())}) from MATH "
        f"test (task version {get_task('math').version}), seed {seed}; engine {ENGINE_VERSION}; commit "
        f"{git_commit(ROOT)}; {now_iso()}; python {sys.version.split()[0]}.\n"
        f"Agreement = % of pairs where the grader's verdict equals the expected label.\n\n"
    )
    foot = f"\n\nThroughput ratio ours / Math-Verify: {ratio:.1f}x (goal: >= 5x with no lower agreement).\n"
    return head + table + foot


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="total pairs (split evenly over the 4 sets)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None, help="benchmark data (default $HARNESS_DATA_DIR)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grading.md"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    report = run(args.n, args.seed, args.data_dir)
    print(report)
    atomic_write_text(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
