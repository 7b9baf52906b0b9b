"""Golden tables for final-answer extraction (harness.answers.extract.extract).

Each case is a real-looking model output (MetaMath/Skywork "The answer is", Minerva "Final Answer",
lm-eval gsm8k "####", chat-model boxes), grouped by phenomenon, with the string that must be
extracted in the given mode. Peer bugs each case guards against are named in the group comment.

Run: python3 -m pytest -q tests/test_extract.py
"""

from __future__ import annotations

import pytest

from harness.answers import extract_answer, grade
from harness.answers.extract import MAX_ANSWER_CHARS, extract

S, F = "strict", "flexible"

BOXES = [
    # nested braces and escaped braces
    (r"We rationalize: $\frac{1}{\sqrt{2}} = \frac{\sqrt{2}}{2}$, so the answer is $\boxed{\frac{\sqrt{2}}{2}}$.",
     "math", S, r"\frac{\sqrt{2}}{2}"),
    (r"The solution set is $\boxed{\{-2, 1\}}$.", "math", S, r"\{-2, 1\}"),
    (r"Thus $f^{-1}(x) = \boxed{\left(\frac{x-1}{2}\right)^{\frac{1}{3}}}$ for all real $x$.",
     "math", S, r"\left(\frac{x-1}{2}\right)^{\frac{1}{3}}"),
    (r"The matrix is $\boxed{\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}}.$", "math", S,
     r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"),
    # \boxed 5 (space form, as written in MATH solutions)
    (r"Adding these up, we get $14+6 = \boxed 20$.", "math", S, "20"),
    (r"So $a+b = \boxed{7}$ and there are $\boxed 3$ ways.", "math", S, "3"),
    # \fbox
    (r"Therefore the probability is $\fbox{$\frac{5}{12}$}$.", "math", S, r"\frac{5}{12}"),
    # multiple-choice in \text
    (r"Only option (C) satisfies both conditions, so the answer is $\boxed{\text{(C)}}$.", "math", S, r"\text{(C)}"),
    # duplicates: the last box wins
    (r"First I guessed $\boxed{12}$, but I forgot the case $x=0$. Recounting gives $\boxed{13}$.", "math", S, "13"),
    (r"The answer is $\boxed{5}$.\n\nFinal answer: $\boxed{5}$", "math", S, "5"),
    # chains stay whole: equivalence deals with them (Skywork false negative "x = 2401/100 = 24.01")
    (r"Hence $\boxed{x = 2401/100 = 24.01}$.", "math", S, "x = 2401/100 = 24.01"),
    # a trailing "!" inside a box or $...$ is a factorial, not punctuation (bug: \boxed{5!} was read as 5)
    (r"There are $5! = 120$ orders, so the answer is $\boxed{5!}$.", "math", S, "5!"),
    (r"Counting orders gives six.\nThe answer is: $3!$.", "math", S, "3!"),
    ("She has 18 pens in all.\nThe answer is 18!", "gsm8k", S, "18"),
    # a box around the whole "The answer is" sentence in GSM8K outputs
    ("She earns 18 * 2 = 36 dollars a day.\nThe answer is \\boxed{36}", "gsm8k", S, "36"),
]

UNCLOSED = [
    # truncated generation: a box that is never closed is no answer, not half of one
    (r"Therefore the area is $\boxed{\frac{3\sqrt{3}}{2", "math", S, None),
    (r"So $x = \boxed{4}$. Let me double-check with the other root: $\boxed{\frac{1}{2}", "math", S, None),
    (r"The area is $\boxed{}$.", "math", S, None),
]

RUNON = [
    # sglang #29933: a base model keeps writing the next few-shot exemplar after answering
    ("Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether.\nThe answer is 72.\n\n"
     "Question: Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
     "How much did she earn?\nAnswer: Weng earns 12/60 = $0.2 per minute.\nThe answer is 10.", "gsm8k", S, "72"),
    ("Natalia sold 48/2 = 24 clips in May.\n#### 72\n\nQuestion: Weng earns $12 an hour for babysitting.\n"
     "Answer: 12/60 = 0.2 per minute, 0.2 * 50 = 10\n#### 10", "gsm8k", S, "72"),
    ("We have $x^2 = 16$, so $x = \\boxed{4}$.\n\nProblem:\nFind the sum of all roots of $x^2-5x+6$.\n\n"
     "Solution:\nBy Vieta the sum is $\\boxed{5}$.", "math", S, "4"),
    ("The remainder is 3.\nFinal Answer: The final answer is $3$. I hope it is correct.\n\nProblem:\n"
     "What is $2^{10}$?\n\nSolution:\n$2^{10}=1024$.\nFinal Answer: The final answer is $1024$. I hope it is correct.",
     "math", S, "3"),
    # chat end-of-turn token: everything after it is not the model's
    ("So the total is $\\boxed{15}$.<|im_end|>\n<|im_start|>user\nNow solve: ... \\boxed{99}", "math", S, "15"),
    ("The answer is: 12</s>\n### Instruction:\nJohn has 3 cats ... The answer is: 3", "math", S, "12"),
    # flexible last-number never reads the next exemplar: no marker before the run-on
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day, making 9 * 2 = 18 dollars.\n\nQuestion: A robe takes 2 bolts "
     "of blue fiber and half that much white fiber. How many bolts in total?\nAnswer: 2 + 1 = 3",
     "gsm8k", F, "18"),
    # ...and strict finds nothing there
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day, making 9 * 2 = 18 dollars.\n\nQ: A robe takes 2 bolts of blue "
     "fiber.\nA: 2 + 1 = 3", "gsm8k", S, None),
    # restatement: the model repeats "Problem:" before solving; the answer after it is found
    ("Let me restate it.\nProblem: What is the least common multiple of 12 and 18?\nSolution: "
     "$12 = 2^2 \\cdot 3$ and $18 = 2 \\cdot 3^2$, so the LCM is $2^2 \\cdot 3^2 = \\boxed{36}$.", "math", S, "36"),
]

TAIL = [
    # verl #7274: "#### N" far from the end (long trailing chatter) is still found
    ("Each box holds 6 eggs, 12 boxes hold 72 eggs.\n#### 72\n" + "I hope this helps! Let me know. " * 400,
     "gsm8k", S, "72"),
    (r"So $n = \boxed{2017}$." + "\n" + "Let me also verify this numerically. " * 1500, "math", S, "2017"),
]

SIGNS = [
    # proeval #19: a stripped sign turns -3 into 3
    ("The temperature fell from 5 to -3 degrees, a change of -8.\n#### -8", "gsm8k", S, "-8"),
    ("The balance is 20 - 23 = -3 dollars.\nThe answer is -3.", "gsm8k", S, "-3"),
    ("So the minimum value is -3.", "gsm8k", F, "-3"),
    (r"Therefore $k = \boxed{-\frac{3}{2}}$.", "math", S, r"-\frac{3}{2}"),
    ("She ends up owing 1,250 - 1,300 = -50 dollars, that is -50.", "gsm8k", F, "-50"),
]

BOLD = [
    # Math-Verify #76: "**73**" must give 73, not "73**"
    ("Adding the two groups: 45 + 28 = 73.\n\nSo Lisa has **73** stickers in total.", "gsm8k", F, "73"),
    ("The answer is **73**.", "gsm8k", S, "73"),
    ("**Step 1:** find the speed.\n60 / 4 = 15 mph.\n\n**Final result: 15 mph**", "gsm8k", F, "15 mph"),
    ("**Answer:** 42", "gsm8k", F, "42"),
]

BARE_LATEX = [
    # Math-Verify #70: a bare \dfrac{9}{7} without $ delimiters
    (r"The answer is \dfrac{9}{7}", "math", S, r"\dfrac{9}{7}"),
    (r"Dividing both sides by 7 we get x = \dfrac{9}{7}", "math", F, r"\dfrac{9}{7}"),
    (r"so the length of the side is $2\sqrt{5}$ units", "math", F, r"2\sqrt{5}"),
]

GSM8K_FORMATS = [
    # lm-eval #3214: flexible-extract returned "$29.00"; we keep what is written, equivalence normalizes
    ("Each shirt costs $14.50, so two cost $29.00.\n#### $29.00", "gsm8k", S, "$29.00"),
    ("Each shirt costs $14.50, so two shirts cost a total of $29.00", "gsm8k", F, "29.00"),
    ("He saves 1,000 dollars.\nThe answer is: 1,000", "gsm8k", S, "1,000"),
    ("So the farmer has 18 cows. The answer is 18. ", "gsm8k", S, "18"),
    ("Total is 5 + 7 = 12.\n#### 12.", "gsm8k", S, "12"),
    ("The answer is $18.", "gsm8k", S, "$18"),
]

MATH_FORMATS = [
    # Minerva
    ("We have $\\frac{6}{8}=\\frac{3}{4}$.\nFinal Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.",
     "math", S, r"\frac{3}{4}"),
    ("The lines meet at $(1,-2)$.\nFinal Answer: The final answer is (1,-2). I hope it is correct.", "math", S,
     "(1,-2)"),
    # MetaMath / Skywork
    ("The sum of the interior angles is $180(6-2) = 720$ degrees.\nThe answer is: 720", "math", S, "720"),
    ("Since $2^{10} = 1024$, the answer is 1024.\nThe answer is $\\frac{1}{2}$.", "math", S, r"\frac{1}{2}"),
    ("The answer is: $$\\sqrt{13}$$", "math", S, r"\sqrt{13}"),
    ("The answer is:\n\n$$\\frac{\\pi}{4}$$", "math", S, r"\frac{\pi}{4}"),
    ("The answer is $\\boxed{5}$", "math", S, "5"),
    ("The answer is (B).", "math", S, "(B)"),
]

STRICT_VS_FLEXIBLE = [
    # Skywork's own false negative: "The correct answer is 19" is not the prompt's format
    ("Checking all cases, the correct answer is 19.", "math", S, None),
    ("Checking all cases, the correct answer is 19.", "math", F, "19"),
    ("So the final answer is $\\frac{7}{3}$.", "math", S, None),
    ("So the final answer is $\\frac{7}{3}$.", "math", F, r"\frac{7}{3}"),
    ("Final Answer: 128", "math", F, "128"),
    ("Therefore she needs 3 * 4 = 12 more apples.", "gsm8k", S, None),
    ("Therefore she needs 3 * 4 = 12 more apples.", "gsm8k", F, "12"),
    ("The roots are $x=2$ and $x=3$, which sum to $5$", "math", F, "5"),
    # strict wins over flexible fallbacks when present
    ("The answer is 4, or maybe 5.\n#### 4", "gsm8k", F, "4"),
    ("I am not sure about this one.", "gsm8k", F, None),
    # flexible phrase fallback: GSM8K keeps the number, and a long "Answer: <reasoning>" is not an answer
    ("So the correct answer is 19 apples.", "gsm8k", F, "19"),
    ("Answer: Natalia sold 48/2 = 24 clips in May and 48 + 24 clips in total, so altogether 72", "gsm8k", F, "72"),
    ("", "math", F, None),
]

ALL = BOXES + UNCLOSED + RUNON + TAIL + SIGNS + BOLD + BARE_LATEX + GSM8K_FORMATS + MATH_FORMATS + STRICT_VS_FLEXIBLE


@pytest.mark.parametrize("output,family,mode,expected", ALL)
def test_golden(output, family, mode, expected):
    assert extract(output, family, mode) == expected


@pytest.mark.parametrize("output,family,mode,expected", BOXES + MATH_FORMATS)
def test_flexible_agrees_with_strict_when_strict_finds(output, family, mode, expected):
    assert extract(output, family, "flexible") == extract(output, family, "strict") == expected


GARBAGE = [
    ("{" * 200_000, "math"),
    ("\\boxed{" * 30_000, "math"),
    ("$" * 200_000, "math"),
    ("1," * 100_000, "gsm8k"),
    (",,,," * 50_000, "gsm8k"),
    ("The answer is " * 15_000, "gsm8k"),
    ("\\frac{" * 35_000, "math"),
    ("**a" * 66_000, "gsm8k"),
    ("\nQuestion:" * 20_000, "gsm8k"),
]


@pytest.mark.parametrize("garbage,family", GARBAGE)
@pytest.mark.parametrize("mode", [S, F])
def test_garbage_gives_no_answer(garbage, family, mode):
    # 200k chars of degenerate output (repetition loops): no answer, and no hang (linear-time scans)
    assert extract(garbage, family, mode) is None


def test_garbage_before_a_real_answer():
    out = "ab{c}$" * 30_000 + "\nSo the result is $\\boxed{42}$."
    assert extract(out, "math", S) == "42"


def test_answer_longer_than_cap_is_no_answer():
    long = "1+" * MAX_ANSWER_CHARS + "1"
    assert extract(f"So $\\boxed{{{long}}}$.", "math", S) is None
    ok = "1+" * 100 + "1"
    assert extract(f"So $\\boxed{{{ok}}}$.", "math", S) == ok


def test_public_api_routes_task_to_family():
    out = "3 + 4 = 7\n#### 7\nThe answer is \\boxed{8}"
    assert extract_answer(out, "gsm8k") == "7"
    assert extract_answer(out, "math500") == "8"
    with pytest.raises(ValueError):
        extract_answer(out, "math", mode="lenient")


def test_grade_no_answer_status():
    g = grade("I could not finish the computation", "5", "math")
    assert (g.correct, g.extracted, g.status) == (False, None, "no_answer")
