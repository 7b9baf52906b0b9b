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

from dataclasses import dataclass, field
from typing import Callable, Sequence

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
}


def register_prompt(t: PromptTemplate) -> None:
    PROMPTS[t.name] = t


def get_prompt(name: str) -> PromptTemplate:
    """Look up a prompt template by name, with "did you mean" on a miss."""
    if name not in PROMPTS:
        raise HarnessError(did_you_mean(name, PROMPTS, "prompt"))
    return PROMPTS[name]


def default_prompt(task: str) -> str:
    """The default prompt for a task."""
    return "qwen-boxed"
