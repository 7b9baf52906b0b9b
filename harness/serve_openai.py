"""The OpenAI API as ``harness serve`` speaks it: which request fields are served, which are refused
(400, never ignored), and how replies, streamed chunks and logprobs are written.

Pure Python (no HTTP, no torch): :func:`parse_request` turns a decoded JSON body into an :class:`Ask`;
:func:`reply` and :class:`ChunkWriter` turn generations back into OpenAI JSON. ``docs/openai-api.md``
lists the same fields in a table that ``tests/test_serve_api.py`` calls one by one with the official SDK.

Field policy (the audit): every field of a request is either **served** (:data:`SERVED`), **accepted only
at its neutral value** (:data:`NEUTRAL`: the value that changes nothing, e.g. ``frequency_penalty: 0``;
any other value is refused), or **refused** (everything else, unknown fields included, as OpenAI does).

Examples:
    >>> ask = parse_request({"prompt": "1+1=", "max_tokens": 4, "temperature": 0}, chat=False)
    >>> ask.prompts, ask.params.max_new_tokens, ask.stream
    (['1+1='], 4, False)
    >>> try:
    ...     parse_request({"prompt": "x", "frequency_penalty": 0.5}, chat=False)
    ... except RequestError as e:
    ...     print(e.status, e.param)
    400 frequency_penalty
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.backends.base import Generation, SamplingParams

#: OpenAI's default ``max_tokens`` for /v1/completions (vLLM's too); chat's default is the rest of the context.
COMPLETIONS_MAX_TOKENS = 16
#: Roles a chat message may have (the chat template renders them; others are refused).
ROLES = ("system", "user", "assistant")

_COMMON = ("model", "max_tokens", "temperature", "top_p", "n", "seed", "stop", "stream", "stream_options", "user")
#: Fields each endpoint serves.
SERVED: dict[str, tuple[str, ...]] = {
    "completions": (*_COMMON, "prompt", "logprobs", "echo"),
    "chat": (*_COMMON, "messages", "max_completion_tokens", "logprobs", "top_logprobs"),
}
#: Fields accepted only at the value that changes nothing (absent or null is the same); any other value
#: is refused with 400. vLLM's extensions (``top_k``, ``min_p``, ``repetition_penalty``, ...) included.
NEUTRAL: dict[str, tuple[Any, ...]] = {
    "frequency_penalty": (0,),
    "presence_penalty": (0,),
    "logit_bias": ({},),
    "best_of": (1,),  # and best_of == n
    "suffix": ("",),
    "response_format": ({"type": "text"},),
    "tools": ([],),
    "tool_choice": ("none",),
    "store": (False,),
    "top_k": (-1, 0),
    "min_p": (0,),
    "repetition_penalty": (1,),
    "ignore_eos": (False,),
    "skip_special_tokens": (True,),
}
_STREAM_OPTIONS = ("include_usage",)


class RequestError(Exception):
    """A client error: becomes an OpenAI-style JSON error body with ``status``."""

    def __init__(
        self, message: str, status: int = 400, type_: str = "invalid_request_error", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.param = param


@dataclass
class Ask:
    """One parsed request: what to generate and how to answer.

    ``prompts`` holds, per prompt, a string, a list of token ids, or chat messages. ``max_tokens`` is None
    when the request gave none (the server picks the default: 16 for completions, the rest of the context
    for chat). ``logprobs`` is the number of alternatives per token (None: no logprobs)."""

    chat: bool
    prompts: list
    params: SamplingParams
    max_tokens: int | None
    stream: bool = False
    include_usage: bool = False
    logprobs: int | None = None
    echo: bool = False


def _same(v: Any, x: Any) -> bool:
    if isinstance(v, bool) or isinstance(x, bool):
        return type(v) is type(x) and v == x
    if isinstance(v, (int, float)) and isinstance(x, (int, float)):
        return float(v) == float(x)
    return type(v) is type(x) and v == x


def audit_fields(body: dict, chat: bool) -> None:
    """Refuse (400) every field this server does not honour: unknown fields, and known ones at a value
    other than their neutral one.

    Raises:
        RequestError: naming the first such field (``param`` is its name).
    """
    served = SERVED["chat" if chat else "completions"]
    for key, v in body.items():
        if key in served or v is None:
            continue
        if key in NEUTRAL:
            ok = any(_same(v, x) for x in NEUTRAL[key]) or (key == "best_of" and _same(v, body.get("n") or 1))
            if ok:
                continue
            shown = " or ".join(repr(x) for x in NEUTRAL[key])
            raise RequestError(
                f"'{key}' = {v!r} is not served (only {shown} is accepted); remove it. This server's "
                "fields are listed in docs/openai-api.md.", param=key)
        raise RequestError(
            f"unsupported field {key!r} for {'/v1/chat/completions' if chat else '/v1/completions'}; this "
            f"server serves {', '.join(served)} (see docs/openai-api.md).", param=key)


def _number(body: dict, key: str, default: Any, lo: float, hi: float, integer: bool = False) -> Any:
    v = body.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
        raise RequestError(f"expected '{key}' to be {'an integer' if integer else 'a number'}, found {v!r}",
                           param=key)
    if not lo <= v <= hi:
        raise RequestError(f"expected '{key}' in [{lo}, {hi}], found {v!r}", param=key)
    return int(v) if integer else float(v)


def _flag(body: dict, key: str) -> bool:
    v = body.get(key)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise RequestError(f"expected '{key}' to be true or false, found {v!r}", param=key)
    return v


def parse_sampling(body: dict, *, max_tokens: int) -> SamplingParams:
    """OpenAI sampling fields -> :class:`SamplingParams` (``max_tokens`` already resolved).

    Raises:
        RequestError: a field of the wrong type or out of range.
    """
    stop = body.get("stop")
    if stop is None:
        stop = ()
    elif isinstance(stop, str):
        stop = (stop,) if stop else ()
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop) and len(stop) <= 16:
        stop = tuple(s for s in stop if s)
    else:
        raise RequestError(f"expected 'stop' to be a string or a list of up to 16 strings, found {stop!r}"[:300],
                           param="stop")
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    seed = _number(body, "seed", None, -(2**63), 2**63 - 1, True)
    if temperature == 0:  # greedy ignores the seed; 0 lets identical greedy requests share a batch
        seed = 0
    elif seed is None:
        seed = time.time_ns() % (2**31)
    return SamplingParams(
        max_new_tokens=max_tokens,
        temperature=temperature,
        top_p=_number(body, "top_p", 1.0, 1e-6, 1.0),
        n=_number(body, "n", 1, 1, 128, True),
        seed=seed,
        stop=stop,
    )


def _prompts(body: dict, max_chars: int) -> list:
    """``prompt`` as a list of prompts: strings or token-id lists."""
    p = body.get("prompt")
    if isinstance(p, str):
        prompts: list = [p]
    elif isinstance(p, list) and p and all(isinstance(x, str) for x in p):
        prompts = list(p)
    elif isinstance(p, list) and p and all(isinstance(x, int) and not isinstance(x, bool) for x in p):
        prompts = [list(p)]
    elif (isinstance(p, list) and p and all(isinstance(x, list) and x for x in p)
          and all(isinstance(t, int) and not isinstance(t, bool) for x in p for t in x)):
        prompts = [list(x) for x in p]
    else:
        raise RequestError(
            "expected 'prompt' to be a string, a list of strings, a list of token ids or a list of non-empty "
            f"lists of token ids, found {p!r}"[:300], param="prompt")
    for x in prompts:
        if isinstance(x, str) and len(x) > max_chars:
            raise RequestError(
                f"expected a prompt of at most {max_chars} characters (the server's --max-prompt-chars), found "
                f"{len(x)}; shorten the prompt.", param="prompt")
    return prompts


def _messages(body: dict, max_chars: int) -> list[dict[str, str]]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise RequestError(f"expected 'messages' to be a non-empty list, found {type(msgs).__name__}",
                           param="messages")
    out, total = [], 0
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(f"expected messages[{i}] to be an object with a 'role', found {m!r}"[:300],
                               param="messages")
        if m["role"] not in ROLES:
            raise RequestError(
                f"expected messages[{i}].role to be one of {', '.join(ROLES)}, found {m['role']!r}"[:300],
                param="messages")
        extra = sorted(k for k in m if k not in ("role", "content") and m[k] is not None)
        if extra:
            raise RequestError(f"messages[{i}] has fields this server does not serve: {extra}; send only "
                               "'role' and 'content'."[:300], param="messages")
        content = m.get("content")
        if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise RequestError(f"expected messages[{i}].content parts of type 'text' only (this server "
                                   f"reads text), found {content!r}"[:300], param="messages")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str):
            raise RequestError(f"expected messages[{i}].content to be a string, found {content!r}"[:300],
                               param="messages")
        total += len(content)
        out.append({"role": m["role"], "content": content})
    if total > max_chars:
        raise RequestError(
            f"expected messages of at most {max_chars} characters in all (the server's --max-prompt-chars), "
            f"found {total}; shorten them.", param="messages")
    return out


def parse_request(body: dict, chat: bool, *, max_prompt_chars: int = 10**6, max_logprobs: int = 20) -> Ask:
    """A decoded request body -> :class:`Ask`, refusing anything this server would not honour.

    Args:
        body: the JSON object.
        chat: a /v1/chat/completions request (else /v1/completions).
        max_prompt_chars: longest prompt (all messages together for chat) in characters, checked before
            any tokenizing.
        max_logprobs: most alternatives per token (``logprobs``/``top_logprobs``).

    Raises:
        RequestError: an unserved field or value, a malformed prompt, or a value out of range.
    """
    audit_fields(body, chat)
    stream = _flag(body, "stream")
    opts = body.get("stream_options")
    include_usage = False
    if opts is not None:
        if not stream:
            raise RequestError("'stream_options' is only allowed with 'stream': true", param="stream_options")
        if not isinstance(opts, dict) or any(k not in _STREAM_OPTIONS for k in opts):
            raise RequestError(f"expected 'stream_options' with keys {', '.join(_STREAM_OPTIONS)}, found "
                               f"{opts!r}"[:300], param="stream_options")
        include_usage = _flag(opts, "include_usage")
    if chat:
        prompts: list = [_messages(body, max_prompt_chars)]
        if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
            raise RequestError("give 'max_tokens' or 'max_completion_tokens', not both", param="max_tokens")
        key = "max_tokens" if body.get("max_tokens") is not None else "max_completion_tokens"
        max_tokens = _number(body, key, None, 1, 1 << 24, True)
        top = _number(body, "top_logprobs", None, 0, max_logprobs, True)
        want = _flag(body, "logprobs")
        if top is not None and not want:
            raise RequestError("'top_logprobs' needs 'logprobs': true", param="top_logprobs")
        logprobs = (top or 0) if want else None
        echo = False
    else:
        prompts = _prompts(body, max_prompt_chars)
        echo = _flag(body, "echo")
        logprobs = _number(body, "logprobs", None, 0, max_logprobs, True)
        max_tokens = _number(body, "max_tokens", None, 0 if echo else 1, 1 << 24, True)
    if stream and (logprobs is not None or echo):
        raise RequestError("'stream' with 'logprobs' or 'echo' is not served; ask without 'stream' "
                           "(see docs/openai-api.md)", param="stream")
    params = parse_sampling(body, max_tokens=max_tokens if max_tokens is not None else COMPLETIONS_MAX_TOKENS)
    return Ask(chat=chat, prompts=prompts, params=params, max_tokens=max_tokens, stream=stream,
               include_usage=include_usage, logprobs=logprobs, echo=echo)


# --- replies -------------------------------------------------------------------------------------------

TokenLogprob = tuple[float, list[tuple[int, float]]]


def completion_logprobs(
    ids: Sequence[int], lps: Sequence[TokenLogprob | None], piece: Callable[[int], str]
) -> dict:
    """The /v1/completions ``logprobs`` object: ``tokens``, ``token_logprobs``, ``top_logprobs`` (the
    alternatives, plus the chosen token, as a mapping of token text to log-probability; null where the
    log-probability is null, i.e. the first echoed prompt token) and ``text_offset`` (each token's start
    in the returned ``text``)."""
    tokens, offsets, at = [], [], 0
    for t in ids:
        s = piece(t)
        tokens.append(s)
        offsets.append(at)
        at += len(s)
    tops: list[dict | None] = []
    for t, lp in zip(ids, lps):
        if lp is None:
            tops.append(None)
            continue
        d = {piece(a): v for a, v in lp[1]}
        d.setdefault(piece(t), lp[0])
        tops.append(d)
    return {"tokens": tokens, "token_logprobs": [None if lp is None else lp[0] for lp in lps],
            "top_logprobs": tops, "text_offset": offsets}


def chat_logprobs(ids: Sequence[int], lps: Sequence[TokenLogprob], piece: Callable[[int], str]) -> dict:
    """The /v1/chat/completions ``logprobs`` object (``content``: token, logprob, bytes, top_logprobs)."""
    def entry(t: int, v: float) -> dict:
        s = piece(t)
        return {"token": s, "logprob": v, "bytes": list(s.encode("utf-8"))}

    content = [{**entry(t, lp[0]), "top_logprobs": [entry(a, v) for a, v in lp[1]]} for t, lp in zip(ids, lps)]
    return {"content": content, "refusal": None}


def envelope(ask: Ask, rid: str, created: int, model: str, fingerprint: str, chunk: bool = False) -> dict:
    """The fields every reply (or streamed chunk) of ``ask`` opens with."""
    kind = ("chat.completion" if ask.chat else "text_completion") + (".chunk" if chunk and ask.chat else "")
    return {"id": rid, "object": kind, "created": created, "model": model, "system_fingerprint": fingerprint}


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def reply(
    ask: Ask,
    head: dict,
    results: list[list[Generation]],
    prompt_ids: list[list[int]],
    *,
    piece: Callable[[int], str],
    echo_texts: list[str] | None = None,
    prompt_lps: list[list[TokenLogprob | None]] | None = None,
) -> dict:
    """The whole (non-streamed) reply.

    Args:
        ask: the request.
        head: :func:`envelope` of it.
        results: per prompt, ``params.n`` generations (with ``meta["token_ids"]`` and, when logprobs were
            asked, ``meta["logprobs"]``).
        prompt_ids: each prompt's token ids (for ``usage`` and ``echo``).
        piece: a token id's text.
        echo_texts: per prompt, the text echoed before the completion (``echo``).
        prompt_lps: per prompt, its tokens' log-probabilities (``echo`` with ``logprobs``).
    """
    choices: list[dict] = []
    completion_tokens = 0
    for i, gens in enumerate(results):
        for g in gens:
            completion_tokens += g.tokens
            c: dict[str, Any] = {"index": len(choices)}
            ids = list(g.meta.get("token_ids", []))
            if ask.chat:
                c["message"] = {"role": "assistant", "content": g.text}
                c["logprobs"] = chat_logprobs(ids, g.meta["logprobs"], piece) if ask.logprobs is not None else None
            else:
                text = g.text
                lp = None
                if ask.echo:
                    text = (echo_texts or [""] * len(results))[i] + text
                if ask.logprobs is not None:
                    gen_lps = list(g.meta.get("logprobs", []))
                    if ask.echo and prompt_lps is not None:
                        lp = completion_logprobs(prompt_ids[i] + ids, prompt_lps[i] + gen_lps, piece)
                    else:
                        lp = completion_logprobs(ids, gen_lps, piece)
                c.update(text=text, logprobs=lp)
            c["finish_reason"] = g.finish_reason
            choices.append(c)
    return {**head, "choices": choices,
            "usage": usage(sum(len(p) for p in prompt_ids), completion_tokens)}


class TextStream:
    """The text of one streamed choice, handed out as it grows: :meth:`feed` takes each new token id and
    returns the text that is now certain (nothing past a stop string, nothing that could still become
    one, no half-decoded character); :meth:`finish` returns the rest, given the final text, so the pieces
    always join to exactly the non-streamed text."""

    def __init__(self, decode: Callable[[list[int]], str], eos_ids: set[int], stop: Sequence[str]) -> None:
        self.decode = decode
        self.eos_ids = eos_ids
        self.stop = tuple(stop)
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.ids: list[int] = []
        self.sent = ""
        self.ended = False

    def feed(self, token: int) -> str:
        if self.ended:
            return ""
        if token in self.eos_ids:
            self.ended = True
            return ""
        self.ids.append(token)
        text = self.decode(self.ids)
        cut = min((p for p in (text.find(s) for s in self.stop) if p >= 0), default=-1)
        if cut >= 0:
            text, self.ended = text[:cut], True
        elif self.hold:
            text = text[: len(text) - self.hold]
        text = text.rstrip("\ufffd")  # a character whose bytes are not all generated yet
        if len(text) <= len(self.sent) or not text.startswith(self.sent):
            return ""
        delta, self.sent = text[len(self.sent):], text
        return delta

    def finish(self, final: str) -> str:
        self.ended = True
        delta = final[len(self.sent):] if final.startswith(self.sent) else ""
        self.sent = final
        return delta
