"""Model backends (hf, vllm, openai). Heavy libraries are imported lazily by each backend."""

from harness.backends.base import (
    Backend,
    Generation,
    PromptInput,
    Request,
    SamplingParams,
    StreamingBackend,
    messages_to_text,
    stream,
)

__all__ = [
    "Backend", "Generation", "PromptInput", "Request", "SamplingParams", "StreamingBackend", "get_backend",
    "messages_to_text", "stream",
]

BACKENDS = {
    "hf": "harness.backends.hf:HFBackend",
    "vllm": "harness.backends.vllm:VLLMBackend",
    "openai": "harness.backends.openai:OpenAIBackend",
}


def get_backend(name: str, **kwargs) -> Backend:
    """Construct a backend by name; kwargs go to its keyword-only constructor."""
    import importlib

    from harness.errors import HarnessError, did_you_mean

    if name not in BACKENDS:
        raise HarnessError(did_you_mean(name, BACKENDS, "backend"))
    mod, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(mod), cls)(**kwargs)
