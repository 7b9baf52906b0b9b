"""Model backends (hf, vllm, openai). Heavy libraries are imported lazily by each backend."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from harness.backends.base import (
    Backend,
    Generation,
    PromptInput,
    Request,
    SamplingParams,
    StreamingBackend,
    by_params,
    generate_windows,
    messages_to_text,
    stream,
    take_windows,
)

__all__ = [
    "BACKENDS", "DEFAULT_WINDOW", "Backend", "BackendName", "Generation", "PromptInput", "Request", "SamplingParams", "StreamingBackend",
    "by_params", "default_window", "generate_windows", "get_backend", "make_backend", "messages_to_text", "parse_base_urls", "stream", "take_windows",
]

#: A backend's name, as configs declare it (their choices and did-you-mean come from this one Literal).
BackendName = Literal["hf", "vllm", "openai"]

BACKENDS = dict(zip(get_args(BackendName), (
    "harness.backends.hf:HFBackend",
    "harness.backends.vllm:VLLMBackend",
    "harness.backends.openai:OpenAIBackend",
)))

#: The default in-flight window per backend (``--concurrency``): openai, HTTP requests in flight (vLLM and
#: SGLang servers reach their throughput with 64-256 concurrent requests); vllm, prompts handed to the
#: engine per ``LLM.generate`` call (its scheduler batches continuously inside one call); hf, prompts
#: sorted by length together (then run ``--batch-size`` per forward pass).
DEFAULT_WINDOW = {"openai": 256, "vllm": 4096, "hf": 256}


def get_backend(name: str, **kwargs) -> Backend:
    """Construct a backend by name; kwargs go to its keyword-only constructor."""
    import importlib

    from harness.errors import HarnessError, did_you_mean

    if name not in BACKENDS:
        raise HarnessError(did_you_mean(name, BACKENDS, "backend"))
    mod, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(mod), cls)(**kwargs)


def parse_base_urls(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Server URLs from a string or strings, each possibly comma-separated (``--base-url`` repeated or
    ``--base-url a,b``); blanks dropped, order kept, duplicates kept once."""
    items = [value] if isinstance(value, str) else list(value or ())
    urls = [u.strip() for item in items for u in str(item).split(",")]
    return tuple(dict.fromkeys(u for u in urls if u))


def default_window(backend: str, concurrency: int | None) -> int:
    """Requests in flight: ``concurrency`` when given, else the backend's :data:`DEFAULT_WINDOW` (openai's
    for a backend it does not list)."""
    return concurrency if concurrency is not None else DEFAULT_WINDOW.get(backend, DEFAULT_WINDOW["openai"])


def make_backend(name: str, *, model: str, base_url: Sequence[str] = (), window: int, request_timeout: float,
                 batch_size: int, extra: Mapping[str, Any] | None = None) -> Backend:
    """Build the backend a runner streams through, with the runner's settings where the backend takes them:
    openai gets ``base_url`` (the list of URLs), ``concurrency=window`` and
    ``timeout=request_timeout``; hf gets ``batch_size`` (prompts per forward pass); vllm needs none. ``extra``
    (``--backend-arg``) wins over all of them.

    Raises:
        HarnessError: unknown backend name.
        BackendError: the backend cannot be built (model not found, server URL malformed, ...).
    """
    kw: dict[str, Any] = {"model": model}
    if name == "openai":
        kw.update(base_url=list(base_url), concurrency=window, timeout=request_timeout)
    elif name == "hf":
        kw["batch_size"] = batch_size
    kw.update(extra or {})
    return get_backend(name, **kw)
