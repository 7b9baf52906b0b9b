"""Model backends (hf, vllm, openai). Heavy libraries are imported lazily by each backend."""

from harness.backends.base import Backend, Generation, PromptInput, SamplingParams, messages_to_text

__all__ = ["Backend", "Generation", "PromptInput", "SamplingParams", "messages_to_text", "get_backend"]

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
