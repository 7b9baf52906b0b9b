"""Field conventions of SFT rows, shared by ``harness train --data`` and ``harness clean``.

A row is one JSON object in one of three shapes:

- ``{"prompt": ..., "response": ...}``: ``prompt`` is the rendered prompt (what ``harness synth`` writes,
  with ``question`` beside it);
- ``{"question": ..., "answer" | "response": ...}``: the bare problem; a training run renders it with
  ``prompt_name`` (default ``qwen-boxed``);
- ``{"messages": [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}, ...]}``.

:func:`sft_fields` detects the shape in one place. The problem text (what dedup and decontamination
compare) is ``question`` when present, else the first user message, else the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import DataError

SHAPES = "'prompt'+'response', 'question'+'answer' (or 'response'), or 'messages'"


@dataclass(frozen=True)
class SFTFields:
    """The parts of one row. ``prompt`` is None when the row carries only the bare ``question``."""

    problem: str  # the problem text: question, first user message, or prompt
    prompt: str | None  # the rendered prompt, when the row has one
    question: str | None
    response: str | None  # response, answer, or the last assistant message
    shape: str  # "prompt" | "question" | "messages"


def _text(obj: dict, key: str) -> str | None:
    v = obj.get(key)
    return v if isinstance(v, str) and v.strip() else None


def sft_fields(obj: object, where: str) -> SFTFields:
    """Detect the shape of one row and return its parts.

    Args:
        obj: the parsed JSON line.
        where: ``path: row N`` for the error message.

    Returns:
        The row's :class:`SFTFields`.

    Raises:
        DataError: the row is not an object, or has none of the known shapes.
    """
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object with {SHAPES}; found {type(obj).__name__}.")
    question, prompt = _text(obj, "question"), _text(obj, "prompt")
    response = _text(obj, "response") or _text(obj, "answer")
    text = question or prompt
    if text:
        return SFTFields(text, prompt, question, response, "prompt" if prompt else "question")
    msgs = obj.get("messages")
    if isinstance(msgs, list) and msgs:
        turns = [(m.get("role"), m.get("content")) for m in msgs if isinstance(m, dict)]
        user = next((c for r, c in turns if r == "user" and isinstance(c, str) and c.strip()), None)
        if user:
            reply = next((c for r, c in reversed(turns) if r == "assistant" and isinstance(c, str)), None)
            return SFTFields(user, None, None, reply, "messages")
    raise DataError(f"{where}: expected {SHAPES} with non-empty text; found keys {sorted(obj)}. "
                    "Rename the fields, or convert the file to one of these shapes.")
