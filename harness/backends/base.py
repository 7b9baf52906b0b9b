"""The backend protocol: a batch of prompts in, generations out in the same order.

Load-time arguments are keyword-only on each backend's constructor; per-request sampling is
:class:`SamplingParams` (as vLLM's ``SamplingParams``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

#: A prompt is plain text, or chat messages ``[{"role": ..., "content": ...}]``. Backends send
#: messages through the model's chat template / chat endpoint when it has one, else they join
#: them with :func:`messages_to_text`.
PromptInput = str | list[dict[str, str]]


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "n": self.n,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass
class Generation:
    text: str
    tokens: int = 0
    prompt_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length"
    meta: dict = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """What every backend implements."""

    name: str

    def generate(self, prompts: Sequence[PromptInput], params: SamplingParams) -> list[list[Generation]]:
        """Return, for each prompt in order, ``params.n`` generations."""
        ...

    def close(self) -> None:
        ...


def messages_to_text(messages: Sequence[dict[str, str]]) -> str:
    """Plain-text rendering of chat messages for models without a chat template."""
    return "\n\n".join(m["content"] for m in messages)
