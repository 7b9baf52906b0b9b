"""Named, versioned prompt templates, shared by evaluation, synthesis and training.

``train/`` and ``synth/`` import these exact templates, so a fine-tuned model is evaluated in the
format it learned. Bump a template's ``version`` on any change to its text (it can move scores)
and add a CHANGELOG line.

Templates:

- ``qwen-boxed`` (v1): zero-shot chain of thought, final answer in ``\\boxed{}`` (Qwen2.5-Math style).
- ``alpaca`` (v1): the Alpaca/MetaMath SFT format Skywork-Math evaluated with; the answer follows
  "The answer is: ".
- ``minerva-math`` (v1): Minerva 4-shot MATH ("Final Answer: The final answer is $X$. I hope it is correct.").
- ``gsm8k-cot`` (v1): GSM8K 8-shot chain of thought ("The answer is N.").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.data import DEFAULT_PROMPT, REGISTRY
from harness.errors import HarnessError, did_you_mean


@dataclass(frozen=True)
class Rendered:
    """A rendered prompt: ``text`` always (what is recorded, and sent to base models);
    ``messages`` when the template is a chat prompt (sent through a chat template if the model has one)."""

    text: str
    messages: list[dict[str, str]] | None = None

    def as_input(self, use_chat: bool):
        return self.messages if (use_chat and self.messages is not None) else self.text


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    description: str
    #: render(question, shots) -> Rendered; shots is a list of (question, worked solution) pairs.
    render_fn: Callable[[str, Sequence[tuple[str, str]]], Rendered]
    #: answer_fn(final_answer) -> the closing sentence a response in this format ends with.
    answer_fn: Callable[[str], str]
    stop: tuple[str, ...] = ()
    default_n_shot: int = 0
    #: built-in few-shot exemplars (question, solution-with-final-answer-sentence).
    exemplars: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def render(self, question: str, n_shot: int | None = None) -> Rendered:
        k = self.default_n_shot if n_shot is None else n_shot
        if k > len(self.exemplars):
            raise HarnessError(
                f"Prompt {self.name!r} has {len(self.exemplars)} few-shot exemplars; asked for {k}. "
                f"Use --num-fewshot {len(self.exemplars)} or fewer."
            )
        return self.render_fn(question, self.exemplars[:k])

    def format_response(self, reasoning: str, answer: str) -> str:
        """A training response in this template's format: reasoning, then the answer sentence."""
        reasoning = reasoning.rstrip()
        return (reasoning + "\n" if reasoning else "") + self.answer_fn(answer)

    def ident(self) -> dict:
        return {"name": self.name, "version": self.version}


# --- qwen-boxed -----------------------------------------------------------------------------

QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


def _qwen_render(question: str, shots: Sequence[tuple[str, str]]) -> Rendered:
    msgs = [{"role": "system", "content": QWEN_SYSTEM}]
    for q, a in shots:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": question})
    parts = [f"Question: {q}\nAnswer: {a}" for q, a in shots]
    parts.append(f"Question: {question}\n{QWEN_SYSTEM}\nAnswer:")
    return Rendered(text="\n\n".join(parts), messages=msgs)


# --- alpaca (MetaMath / Skywork-Math) --------------------------------------------------------

ALPACA_HEADER = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
)


def _alpaca_render(question: str, shots: Sequence[tuple[str, str]]) -> Rendered:
    parts = [f"### Instruction:\n{q}\n\n### Response: {a}" for q, a in shots]
    parts.append(f"### Instruction:\n{question}\n\n### Response: Let's think step by step.")
    return Rendered(text=ALPACA_HEADER + "\n\n".join(parts))


# --- minerva-math (Lewkowycz et al. 2022, 4-shot MATH) ----------------------------------------
# The four standard Minerva exemplars, in lm-eval's minerva_math layout:
# "Problem:\n<q>\n\nSolution: <worked solution ending in the Final Answer sentence>", shots joined by "\n\n".


def _minerva_answer(a: str) -> str:
    return f"Final Answer: The final answer is ${a}$. I hope it is correct."


MINERVA_EXEMPLARS: tuple[tuple[str, str], ...] = (
    (
        "Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.",
        (
            "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so "
            "$x\\ge2$, and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to "
            "zero, so $5-x>0$, which gives $x<5$. Therefore, the domain of the expression is "
            "$\\boxed{[2,5)}$.\n"
            + _minerva_answer("[2,5)")
        ),
    ),
    (
        (
            "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find $\\det (\\mathbf{A} "
            "\\mathbf{B}).$"
        ),
        (
            "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) = "
            "(2)(12) = \\boxed{24}.$\n"
            + _minerva_answer("24")
        ),
    ),
    (
        (
            "Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights "
            "instead, how many times must Terrell lift them in order to lift the same total weight?"
        ),
        (
            "If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\\cdot "
            "12\\cdot20=480$ pounds of weight.  If he lifts two 15-pound weights instead for $n$ "
            "times, he will lift a total of $2\\cdot15\\cdot n=30n$ pounds of weight.  Equating this "
            "to 480 pounds, we can solve for $n$:\n\\begin{align*}\n30n&=480\\\\\n\\Rightarrow\\qquad "
            "n&=480/30=\\boxed{16}\n\\end{align*}\n"
            + _minerva_answer("16")
        ),
    ),
    (
        (
            "If the system of equations\n\n\\begin{align*}\n6x-4y&=a,\\\\\n6y-9x "
            "&=b.\n\\end{align*}has a solution $(x, y)$ where $x$ and $y$ are both nonzero,\nfind "
            "$\\frac{a}{b},$ assuming $b$ is nonzero."
        ),
        (
            "If we multiply the first equation by $-\\frac{3}{2}$, we "
            "obtain\n\n$$6y-9x=-\\frac{3}{2}a.$$Since we also know that $6y-9x=b$, we "
            "have\n\n$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\n"
            + _minerva_answer("-\\frac{2}{3}")
        ),
    ),
)


def _minerva_render(question: str, shots: Sequence[tuple[str, str]]) -> Rendered:
    parts = [f"Problem:\n{q}\n\nSolution: {a}" for q, a in shots]
    parts.append(f"Problem:\n{question}\n\nSolution:")
    return Rendered(text="\n\n".join(parts))


# --- gsm8k-cot (Wei et al. 2022, 8-shot chain of thought) -------------------------------------
# The eight standard exemplars, in lm-eval's gsm8k-cot layout: "Q: <q>\nA: <reasoning> The answer is N.",
# shots joined by "\n\n".


def _gsm8k_answer(a: str) -> str:
    return f"The answer is {a}."


GSM8K_COT_EXEMPLARS: tuple[tuple[str, str], ...] = (
    (
        (
            "There are 15 trees in the grove. Grove workers will plant trees in the grove today. After "
            "they are done, there will be 21 trees. How many trees did the grove workers plant today?"
        ),
        (
            "There are 15 trees originally. Then there were 21 trees after some more were planted. So "
            "there must have been 21 - 15 = 6. "
            + _gsm8k_answer("6")
        ),
    ),
    (
        (
            "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the "
            "parking lot?"
        ),
        (
            "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. "
            + _gsm8k_answer("5")
        ),
    ),
    (
        (
            "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they "
            "have left in total?"
        ),
        (
            "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. "
            "After eating 35, they had 74 - 35 = 39. "
            + _gsm8k_answer("39")
        ),
    ),
    (
        (
            "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How "
            "many lollipops did Jason give to Denny?"
        ),
        (
            "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave "
            "Denny 20 - 12 = 8. "
            + _gsm8k_answer("8")
        ),
    ),
    (
        (
            "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many "
            "toys does he have now?"
        ),
        (
            "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 "
            "more toys. 5 + 4 = 9. "
            + _gsm8k_answer("9")
        ),
    ),
    (
        (
            "There were nine computers in the server room. Five more computers were installed each "
            "day, from monday to thursday. How many computers are now in the server room?"
        ),
        (
            "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 "
            "* 4 = 20 computers were added. 9 + 20 is 29. "
            + _gsm8k_answer("29")
        ),
    ),
    (
        (
            "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 "
            "more. How many golf balls did he have at the end of wednesday?"
        ),
        (
            "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. "
            "After losing 2 more, he had 35 - 2 = 33 golf balls. "
            + _gsm8k_answer("33")
        ),
    ),
    (
        "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
        (
            "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has "
            "23 - 15 dollars left. 23 - 15 is 8. "
            + _gsm8k_answer("8")
        ),
    ),
)


def _gsm8k_render(question: str, shots: Sequence[tuple[str, str]]) -> Rendered:
    parts = [f"Q: {q}\nA: {a}" for q, a in shots]
    parts.append(f"Q: {question}\nA:")
    return Rendered(text="\n\n".join(parts))


PROMPTS: dict[str, PromptTemplate] = {
    "qwen-boxed": PromptTemplate(
        name="qwen-boxed",
        version="1",
        description="zero-shot CoT, final answer in \\boxed{} (Qwen2.5-Math style)",
        render_fn=_qwen_render,
        answer_fn=lambda a: f"The final answer is $\\boxed{{{a}}}$.",
        stop=("\nQuestion:",),
    ),
    "alpaca": PromptTemplate(
        name="alpaca",
        version="1",
        description="Alpaca/MetaMath SFT format used by Skywork-Math ('The answer is: X')",
        render_fn=_alpaca_render,
        answer_fn=lambda a: f"The answer is: {a}",
        stop=("\n### Instruction:",),
    ),
    "minerva-math": PromptTemplate(
        name="minerva-math",
        version="1",
        description="Minerva 4-shot MATH ('Final Answer: The final answer is $X$. I hope it is correct.')",
        render_fn=_minerva_render,
        answer_fn=_minerva_answer,
        stop=("\n\nProblem:",),
        default_n_shot=4,
        exemplars=MINERVA_EXEMPLARS,
    ),
    "gsm8k-cot": PromptTemplate(
        name="gsm8k-cot",
        version="1",
        description="GSM8K 8-shot chain of thought, Wei et al. 2022 ('The answer is N.')",
        render_fn=_gsm8k_render,
        answer_fn=_gsm8k_answer,
        stop=("\n\nQ:",),
        default_n_shot=8,
        exemplars=GSM8K_COT_EXEMPLARS,
    ),
}


def register_prompt(t: PromptTemplate) -> None:
    PROMPTS[t.name] = t


def get_prompt(name: str) -> PromptTemplate:
    """Look up a prompt template by name, with "did you mean" on a miss."""
    if name not in PROMPTS:
        raise HarnessError(did_you_mean(name, PROMPTS, "prompt"))
    return PROMPTS[name]


def default_prompt(task: str) -> str:
    """The default prompt of a task (:attr:`harness.data.Task.prompt`).

    Args:
        task: a registered task; a group alias gives its members' prompt when they share one; any other
            name (a custom JSONL path not registered yet) gets the prompt custom tasks default to.

    Examples:
        >>> default_prompt("svamp"), default_prompt("reasoning"), default_prompt("my_problems.jsonl")
        ('qwen-boxed', 'qwen-boxed', 'qwen-boxed')
    """
    if task in REGISTRY:
        return REGISTRY[task].prompt
    members = {REGISTRY[t].prompt for t in REGISTRY.groups.get(task, ())}
    return members.pop() if len(members) == 1 else DEFAULT_PROMPT
