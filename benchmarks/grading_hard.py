r"""Set "e" of the grader benchmark: known hard cases, curated and labelled by hand.

Each pair is (category, gold, model output, expected verdict, one-line reason). The expected verdict
is what mathematics says about the model's final answer against the gold, never what any grader
(ours included) says; pairs whose verdict is debatable (``24%`` vs ``24``, ``45^\circ`` vs
``\frac{\pi}{4}``, a column vector vs a tuple, ``4x-5y=-50`` vs ``5y-4x=50`` when the problem asks
for ``a>0``, ``(-5,\infty]``, ``x=-1`` vs ``-1`` when an asymptote's equation is asked) are left out.

Coverage: every peer failure documented in /work/shared/REFERENCE.md ("How peers normalize
answers, and where they fail") in both directions (the peer's false negative and its false
positive), plus hard-but-fair cases built from real MATH test golds (intervals, matrices, ``\pm``,
sets, equations, mixed numbers, thousands separators, degrees, ``\text{}`` units).

``pred`` is the final answer; the model output is ``wrap(pred)`` (``... The answer is
$\boxed{pred}$.``) unless ``output`` gives the whole text (extraction cases, GSM8K outputs).
``task`` is ``math`` or ``gsm8k`` (GSM8K pairs are graded the way each tool grades GSM8K).

Used by benchmarks/grading.py; ``python3 benchmarks/grading_hard.py`` prints the counts per category.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HardPair:
    """One labelled pair of set e.

    Attributes:
        category: short key, see :data:`CATEGORIES`.
        gold: reference answer as MATH/GSM8K writes it.
        pred: the model's final answer (boxed into a model-style output unless ``output`` is given).
        expected: True when the model's answer equals the gold mathematically.
        reason: one line saying why the label is right (and which peer failure it probes).
        task: ``"math"`` or ``"gsm8k"``.
        output: the whole model output, when the case is about extraction; else None.
    """

    category: str
    gold: str
    pred: str
    expected: bool
    reason: str
    task: str = "math"
    output: str | None = None


CATEGORIES: dict[str, str] = {
    "minerva-strip": "lm-eval minerva normalization: \\left/\\right, \\infty, unit words (#4142)",
    "structured": "tuples, intervals, matrices (lm-eval #4030, Qwen brackets)",
    "thousands-lists": "thousands separators vs lists (lm-eval 0,1 -> 01)",
    "gsm8k": "GSM8K outputs ($29.00, commas, run-on few-shot, signs)",
    "percent": "percents (Skywork 24% vs 0.24, Qwen x100 leniency)",
    "units-text": "units, \\text{}, degrees, text and choice answers (Qwen unit letters)",
    "exactness": "exact values vs rounded decimals (no 1e-4 slack)",
    "multi-answer": "multi-answers, \\pm, sets (Math-Verify any-match, n=2,3,4, \\pm 2021)",
    "factorial": "factorials (Math-Verify 1/2004! vs 1/2006!)",
    "extraction": "answers outside a box (markdown **73**, bare \\dfrac, 'correct answer is', run-on)",
    "symbolic": "radicals and expressions (Skywork 1/2+\\sqrt2/4)",
    "mixed-numbers": "mixed numbers (4\\frac{2}{3} is 14/3)",
    "equations": "equations and chains (x = 2401/100 = 24.01)",
}

_RUNON_MATH = (
    "Adding the two cases gives $12 + 6 = 18$.\nThe answer is $\\boxed{18}$.\n\n"
    "Problem: How many positive divisors does 30 have?\nSolution: $30 = 2 \\cdot 3 \\cdot 5$, so "
    "it has $2^3 = 8$ divisors. The answer is $\\boxed{8}$."
)
_RUNON_GSM8K = (
    "She buys 3 packs of 13 stickers, so she has 3 * 13 = 39 stickers.\nThe answer is 39.\n\n"
    "Question: Tom has 6 boxes of 7 pens. How many pens does he have?\nAnswer: 6 * 7 = 42. The answer is 42."
)

P = HardPair
PAIRS: list[HardPair] = [
    # --- lm-eval minerva: normalize_final_answer deletes substrings ("ft", ...) -------------------
    P("minerva-strip", r"\left(\frac34,5\right)", r"(\frac{3}{4}, 5)", True,
      r"\left/\right only size the brackets (lm-eval #4142: 'ft' removal turned \left into \le)"),
    P("minerva-strip", r"(\frac{3}{4}, 5)", r"\left(\frac34,5\right)", True, "same pair reversed"),
    P("minerva-strip", r"\left( 3, \frac{11 \pi}{8}, \frac{4 \pi}{5} \right)", r"(3, 11\pi/8, 4\pi/5)", True,
      r"same spherical coordinates; \left( sizing only"),
    P("minerva-strip", r"\left( 3, \frac{11 \pi}{8}, \frac{4 \pi}{5} \right)", r"(3, \frac{11\pi}{8}, \frac{3\pi}{5})", False,
      r"third coordinate differs (4\pi/5 vs 3\pi/5)"),
    P("minerva-strip", r"\left(\frac{3}{5},\frac{8}{3}\right]", r"(3/5, 8/3]", True, "same half-open interval"),
    P("minerva-strip", r"\left(\frac{3}{5},\frac{8}{3}\right]", r"[3/5, 8/3]", False, "left endpoint wrongly included"),
    P("minerva-strip", r"(-\infty,0)", r"\left(-\infty, 0\right)", True, r"\infty and \left on one side only (#4142: \infty -> \iny)"),
    P("minerva-strip", r"(-5, \infty)", r"(-5,\infty)", True, "same ray; only spacing differs"),
    P("minerva-strip", r"\infty", r"\iny", False, r"\iny is not a LaTeX symbol, let alone infinity (#4142 mapped \infty to it)"),
    P("minerva-strip", r"\left( -\infty, -\frac{6}{7} \right) \cup \left( -\frac{6}{7}, \infty \right)",
      r"(-\infty,-6/7)\cup(-6/7,\infty)", True, "same union of open rays"),
    P("minerva-strip", r"25 \text{ ft}", "25", True, "unit word only; 'ft' stripped legitimately here"),
    # --- tuples, intervals, matrices ----------------------------------------------------------------
    P("structured", r"\left( -\frac{2}{3}, -\frac{7}{3}, \frac{14}{9} \right)", r"(-2/3, -7/3, 14/9)", True,
      "same ordered triple, fractions written inline"),
    P("structured", r"\left( -\frac{2}{3}, -\frac{7}{3}, \frac{14}{9} \right)", r"(-\frac{7}{3}, -\frac{2}{3}, \frac{14}{9})", False,
      "ordered triple: order matters"),
    P("structured", r"(\frac{1}{2}, 3)", "(0.5, 3)", True, "1/2 = 0.5 inside a tuple"),
    P("structured", "(2, -1)", "(2, 1)", False, "sign of the second coordinate"),
    P("structured", "[1,2]", "(1,2)", False, "closed vs open interval (Qwen compares brackets as lists)"),
    P("structured", "(1,2)", "[1,2]", False, "open vs closed interval, reversed"),
    P("structured", "[-3, 5)", "(-3, 5]", False, "both endpoints' closedness swapped"),
    P("structured", r"(-\infty, -2] \cup [2, \infty)", r"(-\infty,-2)\cup(2,\infty)", False, "endpoints +-2 dropped"),
    P("structured", r"(-\infty, -2] \cup [2, \infty)", r"[2,\infty)\cup(-\infty,-2]", True, "union is commutative"),
    P("structured", r"(2,12) \cup (12,102)", r"(2,102)", False, "12 excluded in the gold"),
    P("structured", r"\{-1\} \cup [0,7)", r"\{-1\}\cup[0, 7)", True, "same set; spacing only"),
    P("structured", r"\begin{pmatrix} -2 \\ -14 \\ -7 \end{pmatrix}", r"\begin{pmatrix}-2\\-14\\-7\end{pmatrix}", True,
      "same column vector, spacing only"),
    P("structured", r"\begin{pmatrix} 48/65 \\ 6/65 \end{pmatrix}", r"\begin{pmatrix} \frac{48}{65} \\ \frac{6}{65} \end{pmatrix}", True,
      "same vector, \\frac vs /"),
    P("structured", r"\begin{pmatrix} 48/65 \\ 6/65 \end{pmatrix}", r"\begin{pmatrix} 6/65 \\ 48/65 \end{pmatrix}", False,
      "components swapped"),
    P("structured", r"\begin{pmatrix} 2 & -3 \\ 0 & 3 \end{pmatrix}", r"\begin{bmatrix} 2 & -3 \\ 0 & 3 \end{bmatrix}", True,
      "same matrix, bracket style only"),
    P("structured", r"\begin{pmatrix} 7 & 1 \\ -1 & -3 \end{pmatrix}", r"\begin{pmatrix} 7 & -1 \\ 1 & -3 \end{pmatrix}", False,
      "transpose is a different matrix"),
    P("structured", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 5 \end{pmatrix}", False,
      "one entry differs"),
    # --- thousands separators vs lists ------------------------------------------------------------
    P("thousands-lists", "0,1", "01", False, "the list 0, 1 is not the number 1 (lm-eval fuses '0,1' into '01')"),
    P("thousands-lists", "01", "0,1", False, "same pair reversed"),
    P("thousands-lists", "0, 1", "0,1", True, "same two-element list, spacing only"),
    P("thousands-lists", "10{,}000", "10000", True, "{,} is a thousands separator"),
    P("thousands-lists", "8{,}880", "8,880", True, "two spellings of the same thousands separator"),
    P("thousands-lists", r"13,\!800", "13800", True, r",\! is a thousands separator"),
    P("thousands-lists", r"1,\!000,\!000,\!000", "10^9", True, "one billion"),
    P("thousands-lists", r"30,\!240", r"30\,240", True, r"thin-space thousands separator"),
    P("thousands-lists", r"90{,}900{,}909", "90900909", True, "several separators"),
    P("thousands-lists", r"90{,}900{,}909", "90900099", False, "digits transposed"),
    P("thousands-lists", "1, 2", "12", False, "a two-element list is not twelve"),
    P("thousands-lists", "10, 100", "10100", False, "a list is not the fused number"),
    # --- GSM8K -----------------------------------------------------------------------------------
    P("gsm8k", "29", "$29.00", True, "$29.00 is 29 dollars (lm-eval flexible extract keeps '29.00', #3214)", task="gsm8k",
      output="The shirt costs $12.50 and the pants $16.50, so she pays $12.50 + $16.50 = $29.00.\nThe answer is $29.00."),
    P("gsm8k", "29", "29", True, "plain #### answer", task="gsm8k",
      output="12.50 + 16.50 = 29 dollars in total.\n#### 29"),
    P("gsm8k", "29", "$29.50", False, "29.50 is not 29", task="gsm8k",
      output="The shirt costs $13 and the pants $16.50, so she pays $29.50.\n#### 29.50"),
    P("gsm8k", "1000", "1,000", True, "thousands comma", task="gsm8k",
      output="He earns 40 * 25 = 1,000 dollars.\n#### 1,000"),
    P("gsm8k", "70000", "70,000", True, "thousands comma", task="gsm8k",
      output="He sold it for 120,000 and had spent 50,000, so his profit is 120,000 - 50,000 = 70,000.\n#### 70,000"),
    P("gsm8k", "39", "39", True, "the answer to THIS question is 39; the rest is run-on few-shot text (sglang #29933)",
      task="gsm8k", output=_RUNON_GSM8K),
    P("gsm8k", "42", "39", False, "the model answered 39; 42 belongs to a hallucinated next question", task="gsm8k",
      output=_RUNON_GSM8K),
    P("gsm8k", "-3", "-3", True, "negative temperature kept", task="gsm8k",
      output="The temperature drops from 5 to 5 - 8 = -3 degrees.\n#### -3"),
    P("gsm8k", "3", "-3", False, "sign matters (a stripped sign turns -3 into 3)", task="gsm8k",
      output="The temperature drops from 5 to 5 - 8 = -3 degrees.\n#### -3"),
    P("gsm8k", "18", "18.00", True, "18.00 = 18", task="gsm8k", output="Each ticket is $6, so 3 cost $18.00.\n#### 18.00"),
    # --- percents --------------------------------------------------------------------------------
    P("percent", r"24\%", "0.24", True, "24% = 0.24 (Skywork strict false negative)"),
    P("percent", "0.24", r"24\%", True, "same pair reversed"),
    P("percent", r"65\%", r"\frac{13}{20}", True, "65% = 13/20"),
    P("percent", r"25\%", "0.025", False, "0.025 is 2.5%"),
    P("percent", "12", "0.12", False, "12 is not 0.12 (Qwen accepts ref/100)"),
    P("percent", "0.12", "12", False, "0.12 is not 12 (Qwen accepts ref*100)"),
    P("percent", r"20\%", r"21\%", False, "different percent"),
    P("percent", r"7\%", "7 percent", True, "percent written out"),
    # --- units, \text{}, degrees, text and choices -----------------------------------------------
    P("units-text", r"575\text{ students}", "575", True, "unit word only"),
    P("units-text", "575", r"575\text{ students}", True, "same pair reversed"),
    P("units-text", r"575\text{ students}", "576", False, "off by one"),
    P("units-text", "4a", "4", False, "4a is an expression in a, not 4 (Qwen strips single-letter 'units')"),
    P("units-text", "4", "4a", False, "same pair reversed"),
    P("units-text", "3n+1", "3+1", False, "n is a variable, not a unit"),
    P("units-text", r"\$5.50", "5.5", True, "dollar sign and trailing zero"),
    P("units-text", r"35^\circ", "35", True, "degree mark only"),
    P("units-text", "35", r"35^{\circ}", True, "same pair reversed, braced \\circ"),
    P("units-text", r"39^\circ", r"38^\circ", False, "different angle"),
    P("units-text", r"\text{odd}", "odd", True, r"\text{} wrapper only (Skywork strict false negative)"),
    P("units-text", r"\text{odd}", r"\text{even}", False, "odd is not even"),
    P("units-text", r"\text{Evelyn}", "Evelyn", True, "name, wrapper only"),
    P("units-text", r"\text{Dana}", r"\text{Evelyn}", False, "different person"),
    P("units-text", r"\text{C,E}", "C, E", True, "same choices, wrapper only"),
    P("units-text", r"\text{C,E}", "C", False, "one choice missing"),
    P("units-text", r"9\text{ a.m.}", r"9\text{ p.m.}", False, "a.m. vs p.m."),
    # --- exactness -------------------------------------------------------------------------------
    P("exactness", r"\frac{1}{3}", "0.333", False, "0.333 is a rounding of 1/3, not 1/3"),
    P("exactness", "0.333", r"\frac{1}{3}", False, "same pair reversed"),
    P("exactness", r"\frac{1}{3}", "0.3333", False, "within 1e-4 of 1/3 but not equal"),
    P("exactness", r"\frac{1}{3}", r"0.\overline{3}", True, "0.333... repeating is exactly 1/3"),
    P("exactness", r"\pi", "3.1416", False, "a rounding of pi"),
    P("exactness", r"\sqrt{2}", "1.41421", False, "a rounding of sqrt 2"),
    P("exactness", "1", "0.9999", False, "within 1e-4 of 1 but not equal"),
    P("exactness", r"\frac{144}{625}", "0.2304", True, "exact terminating decimal"),
    P("exactness", r"\frac{5}{8}", "0.625", True, "exact terminating decimal"),
    P("exactness", "1500", r"1.5\times 10^3", True, "scientific notation, exact"),
    P("exactness", "2^{10}", "1024", True, "power evaluated"),
    P("exactness", "2^{10}", "1000", False, "1024 is not 1000"),
    # --- multi-answers, \pm, sets ----------------------------------------------------------------
    P("multi-answer", r"1331\text{ and }1728", "1728", False, "both numbers are asked; one is missing (Math-Verify any-match, #47)"),
    P("multi-answer", r"1331\text{ and }1728", "1728, 1331", True, "both given"),
    P("multi-answer", "n=2,3,4", "n=1,2,3", False, "different solution lists (Math-Verify #14)"),
    P("multi-answer", "n=1,2,3", "n=2,3,4", False, "same pair reversed"),
    P("multi-answer", r"\pm 2021", "2021", False, "-2021 missing (Math-Verify #14)"),
    P("multi-answer", "2021", r"\pm 2021", False, "extra wrong value -2021"),
    P("multi-answer", r"1 \pm \sqrt{19}", r"1+\sqrt{19}, 1-\sqrt{19}", True, r"\pm written out"),
    P("multi-answer", r"1 \pm \sqrt{19}", r"1+\sqrt{19}", False, "one root missing"),
    P("multi-answer", r"3 \pm 2 \sqrt{2}", r"3-2\sqrt2, 3+2\sqrt2", True, r"\pm written out, other order"),
    P("multi-answer", r"\{1\pm\sqrt{5},-2\}", r"-2, 1-\sqrt{5}, 1+\sqrt{5}", True, "same three roots"),
    P("multi-answer", r"\{1\pm\sqrt{5},-2\}", r"1+\sqrt{5}, 1-\sqrt{5}", False, "root -2 missing"),
    P("multi-answer", r"\sqrt3,\sqrt2", r"\sqrt2,\sqrt3", True, "solution list, order not asked (Skywork strict false negative)"),
    P("multi-answer", "-1, 2", "2", False, "root -1 missing"),
    P("multi-answer", "2", "2, -2", False, "extra wrong value"),
    # --- factorials ------------------------------------------------------------------------------
    P("factorial", r"\frac{1}{2004!}", r"\frac{1}{2006!}", False, "2006! = 2006*2005*2004! (Math-Verify #14)"),
    P("factorial", r"\frac{1}{2006!}", r"\frac{1}{2004!}", False, "same pair reversed"),
    P("factorial", r"\frac{1}{2004!}", "1/2004!", True, "same value, inline"),
    P("factorial", "10!", "3628800", True, "10! evaluated"),
    P("factorial", "10!", "3628801", False, "off by one"),
    P("factorial", r"\frac{1}{100!}", r"\frac{1}{100 \cdot 99!}", True, "100! = 100 * 99!"),
    # --- answers outside a box -------------------------------------------------------------------
    P("extraction", "73", "73", True, "bold markdown answer (Math-Verify #76 reads '73**')",
      output="Adding the 41 girls and 32 boys, the class has **73** students."),
    P("extraction", "74", "73", False, "bold answer 73 is not 74",
      output="Adding the 41 girls and 32 boys, the class has **73** students."),
    P("extraction", r"\frac{9}{7}", r"\dfrac{9}{7}", True, "bare \\dfrac without $ (Math-Verify #70)",
      output="Dividing both sides by 7, the ratio is \\dfrac{9}{7}"),
    P("extraction", "19", "19", True, "'The correct answer is 19' (Skywork strict false negative)",
      output="Checking each case, only 19 works. The correct answer is 19."),
    P("extraction", "18", "18", True, "first problem's box; the rest is run-on few-shot text", output=_RUNON_MATH),
    P("extraction", "8", "18", False, "the model answered 18; 8 answers a hallucinated next problem", output=_RUNON_MATH),
    # --- radicals and expressions ----------------------------------------------------------------
    P("symbolic", r"(2+\sqrt2)/4", r"1/2+\sqrt2/4", True, "same value (Skywork strict false negative)"),
    P("symbolic", r"1/2+\sqrt2/4", r"\frac{2+\sqrt{2}}{4}", True, "same pair reversed"),
    P("symbolic", r"\frac{2+\sqrt{2}}{4}", r"\frac{2+\sqrt{3}}{4}", False, "different radical"),
    P("symbolic", r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}", True, "rationalised denominator"),
    P("symbolic", r"2\sqrt{3}", r"\sqrt{12}", True, "simplified radical"),
    P("symbolic", r"2\sqrt{3}", r"2+\sqrt{3}", False, "product, not sum"),
    P("symbolic", r"x^2+2x+1", r"(x+1)^2", True, "expanded square"),
    P("symbolic", r"(x+1)^2", r"x^2+1", False, "missing cross term"),
    P("symbolic", r"\frac{1}{2-x}", r"\frac{1}{x-2}", False, "sign flipped"),
    P("symbolic", r"\frac{1}{2-x}", r"-\frac{1}{x-2}", True, "same function"),
    P("symbolic", "-3 + 6i", "6i-3", True, "complex number, terms reordered"),
    P("symbolic", "-3 + 6i", "-3-6i", False, "conjugate"),
    P("symbolic", r"\frac{\pi}{6}", r"\frac{\pi}{3}", False, "different angle"),
    # --- mixed numbers ---------------------------------------------------------------------------
    P("mixed-numbers", r"\frac{14}{3}", r"4\frac{2}{3}", True, "mixed number 4 2/3 = 14/3"),
    P("mixed-numbers", r"\frac{8}{3}", r"4\frac{2}{3}", False, "a mixed number is a sum, not 4 * 2/3"),
    P("mixed-numbers", r"3\frac18", r"\frac{25}{8}", True, "3 1/8 = 25/8"),
    P("mixed-numbers", r"1\frac{12}{13}", "25/13", True, "1 12/13 = 25/13"),
    P("mixed-numbers", r"1\frac{12}{13}", "12/13", False, "whole part dropped"),
    P("mixed-numbers", r"12\frac{3}{5}", "12.6", True, "12 3/5 = 12.6"),
    P("mixed-numbers", r"1\frac{1}{4}", r"\frac{1}{4}", False, "whole part dropped"),
    # --- equations -------------------------------------------------------------------------------
    P("equations", "24.01", "x = 2401/100 = 24.01", True, "chain of equalities ending in the value (Skywork)"),
    P("equations", "x = -1", "x = 1", False, "sign (gold of 'solve for x')"),
    P("equations", "b=4", "4", True, "value of b"),
    P("equations", r"y = \frac{1}{2} x + 2", "y = 0.5x + 2", True, "same line, decimal slope"),
    P("equations", r"y = \frac{1}{2} x + 2", "y = 2x + \\frac{1}{2}", False, "slope and intercept swapped"),
    P("equations", "4x-5y=-50", "4x-5y=50", False, "different constant"),
    P("equations", "x^2 + y^2 = 13", "y^2 + x^2 = 13", True, "terms reordered"),
    P("equations", "x^2 + y^2 = 13", "x^2 + y^2 = 14", False, "different radius"),
    P("equations", "x^2 + y^2 = 13", "x^2 + 2y^2 = 13", False, "an ellipse, not the circle (minerva keeps only the text after the last '=')"),
    P("equations", "4x-5y=-50", "4x+5y=-50", False, "different line, same right-hand side"),
]


def main() -> None:
    from collections import Counter

    c = Counter(p.category for p in PAIRS)
    for k, v in CATEGORIES.items():
        print(f"{k:16s} {c[k]:3d}  {v}")
    print(f"{'total':16s} {len(PAIRS):3d}  (equal: {sum(p.expected for p in PAIRS)})")
    unknown = set(c) - set(CATEGORIES)
    dup = [k for k, n in Counter((p.gold, p.pred, p.output) for p in PAIRS).items() if n > 1]
    if unknown or dup:
        raise SystemExit(f"unknown categories {unknown} or duplicate pairs {dup}")


if __name__ == "__main__":
    main()
