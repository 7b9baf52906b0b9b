"""The backend protocol: a batch of prompts in, generations out in the same order; and the
streaming form the runners use: requests in, each request's generations out as soon as they finish.

Load-time arguments are keyword-only on each backend's constructor; per-request sampling is
:class:`SamplingParams` (as vLLM's ``SamplingParams``).

Streaming: :func:`stream` keeps up to ``window`` requests in flight and yields ``(request,
generations)`` in completion order, so a runner can grade and record each sample as it lands
instead of waiting for the slowest request of a batch. A backend that can do better than batches
of ``generate`` (an HTTP client with a request window, an engine with continuous batching) defines
``stream(requests, *, window)`` itself (:class:`StreamingBackend`); :func:`stream` uses it when present.

"Nothing ready yet": the request iterator may yield ``None`` when its next request depends on answers
still in flight (a teacher's solution request waits on its new problem). Every stream honours it the same
way: it sends nothing more for now, waits for (or, batch-wise, runs) what is in flight, yields those
results, and then asks the iterator again; only the iterator's end finishes the stream. A ``None`` with
nothing in flight also ends it (no answer could ever make work ready). :func:`take_windows` and
:func:`pull` implement it for batch-wise and queue-fed streams.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol, runtime_checkable

from harness.errors import BackendError

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


@dataclass(frozen=True)
class Request:
    """One unit of streamed work: a caller's ``key``, the prompt, and its sampling parameters."""

    key: Hashable
    prompt: PromptInput
    params: SamplingParams


@runtime_checkable
class StreamingBackend(Backend, Protocol):
    """A backend that streams results itself (see the module docstring)."""

    def stream(
        self, requests: Iterable[Request | None], *, window: int
    ) -> Iterator[tuple[Request, list[Generation]]]:
        """Yield ``(request, params.n generations)`` for every request, in completion order.

        At most ``window`` requests are in flight; ``requests`` is consumed lazily and may yield ``None``
        ("nothing ready until an answer in flight comes back", see the module docstring): the stream then
        yields what is in flight before asking again, and does not end. Raises
        :class:`harness.errors.BackendError` to stop; pairs already yielded stay valid.
        """
        ...


def take_windows(requests: Iterable[Request | None], window: int) -> Iterator[list[Request]]:
    """Consecutive lists of up to ``window`` requests, each handed on as soon as it is full, or early at a
    ``None`` from ``requests`` ("nothing ready until these are answered"). ``requests`` is pulled lazily,
    never one request ahead, so the caller runs each list before the next is gathered.

    Args:
        requests: the work; ``None`` items: nothing ready yet (with nothing gathered: the end).
        window: the most requests per list.

    Returns:
        an iterator of non-empty lists of requests, in order.
    """
    it = iter(requests)
    while True:
        chunk, ended = pull(it, window)
        if chunk:
            yield chunk
        if ended or not chunk:  # the end, or nothing ready with nothing in flight
            return


def pull(requests: Iterator[Request | None], n: int) -> tuple[list[Request], bool]:
    """Up to ``n`` requests from ``requests``, stopping early at a ``None`` (nothing ready yet) or its end.

    Args:
        requests: the work (``None`` items: nothing ready until an answer in flight comes back).
        n: the most requests to take.

    Returns:
        ``(requests taken, ended)``: ``ended`` is True when the iterator is exhausted (no more work ever).
    """
    out: list[Request] = []
    for req in islice(requests, n):
        if req is None:
            return out, False
        out.append(req)
    return out, len(out) < n


def by_params(requests: Sequence[Request]) -> list[tuple[SamplingParams, list[Request]]]:
    """``requests`` grouped by sampling parameters (groups in order of first appearance, requests in order)."""
    groups: dict[SamplingParams, list[Request]] = {}
    for r in requests:
        groups.setdefault(r.params, []).append(r)
    return list(groups.items())


def stream(
    backend: Backend, requests: Iterable[Request | None], *, window: int
) -> Iterator[tuple[Request, list[Generation]]]:
    """Stream ``requests`` through ``backend`` (its own ``stream`` when it has one).

    The fallback for batch-only backends is :func:`generate_windows`: up to ``window`` consecutive
    requests, grouped by sampling parameters, each group as one ``generate`` call. ``requests`` may yield
    ``None`` (nothing ready until an answer in flight comes back; see the module docstring).

    Raises:
        ValueError: ``window`` < 1.
        BackendError: from the backend, or a backend that returned a wrong number of results.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    own = getattr(backend, "stream", None)
    if callable(own):
        yield from own(requests, window=window)
        return
    yield from generate_windows(backend, requests, window=window)


def generate_windows(
    backend: Backend, requests: Iterable[Request | None], *, window: int
) -> Iterator[tuple[Request, list[Generation]]]:
    """Up to ``window`` consecutive requests at a time, grouped by sampling parameters, one ``generate`` call
    per group; each call's results are yielded as soon as it returns. A ``None`` from ``requests`` runs the
    requests gathered so far at once (and the stream goes on with what their answers make ready).

    Raises:
        BackendError: from the backend, or a backend that returned a wrong number of results.
    """
    for chunk in take_windows(requests, window):
        for params, group in by_params(chunk):
            gens = backend.generate([r.prompt for r in group], params)
            if len(gens) != len(group):
                raise BackendError(f"expected {len(group)} results from backend {backend.name!r} (one per "
                                   f"prompt), found {len(gens)}; this is a bug in that backend.")
            yield from zip(group, gens)
