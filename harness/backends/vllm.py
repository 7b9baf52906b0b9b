"""The ``vllm`` backend: vLLM's offline ``LLM`` engine (continuous batching, paged attention).

``vllm`` is an optional extra (``pip install 'mathharness[vllm]'`` on a CUDA machine) and is imported
only when a :class:`VLLMBackend` is built. Tensor and data parallel sizes go straight to vLLM, so a user
who outgrows one GPU uses vLLM's own parallelism. Plain-string prompts go through ``LLM.generate``,
chat messages through ``LLM.chat`` (when the tokenizer has a chat template; otherwise they are joined
with :func:`messages_to_text`, as the ``hf`` backend does). Outputs come back in input order.
The runners call :meth:`VLLMBackend.stream`, which keeps thousands of prompts queued in the engine
(``--concurrency``, default :data:`harness.backends.DEFAULT_WINDOW` ``["vllm"]``), adds more as requests
finish and yields each one as it finishes.

The request/response mapping is two pure functions, :func:`sampling_kwargs` and
:func:`to_generations`, tested without vllm (it cannot be installed in CI).

Examples:
    >>> be = VLLMBackend(model="Qwen/Qwen2.5-Math-7B", tensor_parallel_size=2)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from harness.backends.base import (
    Generation,
    PromptInput,
    Request,
    SamplingParams,
    by_params,
    generate_windows,
    messages_to_text,
    pull,
)
from harness.errors import BackendError

log = logging.getLogger(__name__)

NOT_INSTALLED = "vllm is not installed; pip install 'mathharness[vllm]' on a CUDA machine"


def sampling_kwargs(params: SamplingParams) -> dict[str, Any]:
    """Our :class:`SamplingParams` -> keyword arguments for ``vllm.SamplingParams``.

    Greedy decoding (temperature 0) asks vLLM for one sequence; :func:`to_generations` repeats it
    ``n`` times (vLLM rejects n > 1 with greedy sampling in some versions, and the copies are identical).

    Args:
        params: our sampling parameters.

    Returns:
        a dict with max_tokens, temperature, top_p, n, seed, stop (and skip_special_tokens).
    """
    greedy = params.temperature <= 0
    return {
        "max_tokens": params.max_new_tokens,
        "temperature": 0.0 if greedy else float(params.temperature),
        "top_p": 1.0 if greedy else float(params.top_p),
        "n": 1 if greedy else params.n,
        "seed": params.seed,
        "stop": list(params.stop),
        "skip_special_tokens": True,
    }


def to_generations(output: Any, n: int) -> list[Generation]:
    """One vLLM ``RequestOutput`` -> ``n`` :class:`Generation` objects, by completion index.

    Args:
        output: an object with ``prompt_token_ids`` and ``outputs`` (each with ``index``, ``text``,
            ``token_ids``, ``finish_reason`` "stop"|"length"|"abort"|None and ``stop_reason``).
        n: generations wanted (a single greedy completion is repeated).

    Returns:
        ``n`` generations.

    Raises:
        BackendError: vLLM returned no completion for the request.
    """
    outs = sorted(output.outputs, key=lambda o: o.index)
    if not outs:
        raise BackendError(f"expected {n} completion(s) from vLLM, found none for prompt {str(output)[:100]}")
    prompt_tokens = len(getattr(output, "prompt_token_ids", None) or [])
    gens = []
    for o in outs:
        meta = (
            {"stop_reason": o.stop_reason} if isinstance(getattr(o, "stop_reason", None), (str, int)) else {}
        )
        gens.append(
            Generation(
                text=o.text,
                tokens=len(o.token_ids),
                prompt_tokens=prompt_tokens,
                finish_reason="length" if o.finish_reason == "length" else "stop",
                meta=meta,
            )
        )
    if len(gens) == 1 and n > 1:
        g = gens[0]
        gens = [
            Generation(g.text, g.tokens, g.prompt_tokens, g.finish_reason, dict(g.meta)) for _ in range(n)
        ]
    return gens


_INTERNAL_SUFFIX = re.compile(r"-[0-9a-f]{8}$")


def _external_id(request_id: object) -> str:
    """The id a request's outputs carry: ``LLM.enqueue`` returns the engine's internal id, which (vLLM >= 0.11)
    is the external one plus ``-`` and 8 random hex characters."""
    return _INTERNAL_SUFFIX.sub("", str(request_id))


def _as_text(prompt: PromptInput) -> str:
    """A text prompt as is; chat messages joined (:func:`messages_to_text`) for a model without a template."""
    return prompt if isinstance(prompt, str) else messages_to_text(prompt)


class VLLMBackend:
    """vLLM's offline engine behind the backend protocol.

    Args:
        model: checkpoint directory or hub id.
        tensor_parallel_size: GPUs per model replica (vLLM tensor parallelism).
        data_parallel_size: model replicas (vLLM data parallelism; passed only when > 1).
        dtype: "auto", "bfloat16", "float16", ...
        gpu_memory_utilization: fraction of GPU memory vLLM may take.
        max_model_len: context length cap (default: the model's).
        seed: engine seed.
        sampling_extra: extra ``vllm.SamplingParams`` fields for every request, e.g. ``{"ignore_eos": true}``
            for fixed-length throughput runs (``--backend-arg 'sampling_extra={"ignore_eos": true}'``).
        **engine_kwargs: any other ``vllm.LLM`` / ``EngineArgs`` argument.

    Raises:
        BackendError: vllm is not installed, or the engine cannot load the model.
    """

    name = "vllm"

    def __init__(
        self,
        *,
        model: str,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        seed: int = 0,
        sampling_extra: dict[str, Any] | None = None,
        **engine_kwargs: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as e:
            raise BackendError(f"{NOT_INSTALLED} (import failed: {e})") from None
        kwargs = dict(
            model=str(model),
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            seed=seed,
            **engine_kwargs,
        )
        if data_parallel_size > 1:
            kwargs["data_parallel_size"] = data_parallel_size
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        try:
            llm = vllm.LLM(**kwargs)
        except Exception as e:  # noqa: BLE001 - one clear line for any engine failure
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise BackendError(
                f"expected vLLM to load {model!r}, found {type(e).__name__}: {msg}; check the path, "
                "--tensor-parallel-size against the visible GPUs, and --gpu-memory-utilization."
            ) from None
        self._init(llm, vllm.SamplingParams, sampling_extra)

    @classmethod
    def from_engine(cls, llm: Any, sampling_params_cls: Any = None,
                    sampling_extra: dict[str, Any] | None = None) -> VLLMBackend:
        """Wrap an existing ``vllm.LLM`` (reuse one engine across evaluations).

        Args:
            llm: a ``vllm.LLM`` (anything with ``generate``, ``chat`` and ``get_tokenizer``).
            sampling_params_cls: class that builds sampling parameters (default ``vllm.SamplingParams``).
            sampling_extra: extra sampling fields for every request (see the class docstring).

        Returns:
            the backend.
        """
        self = cls.__new__(cls)
        if sampling_params_cls is None:
            try:
                from vllm import SamplingParams
            except ImportError:
                raise BackendError(NOT_INSTALLED) from None
            sampling_params_cls = SamplingParams
        self._init(llm, sampling_params_cls, sampling_extra)
        return self

    def _init(self, llm: Any, sampling_params_cls: Any, sampling_extra: dict[str, Any] | None = None) -> None:
        self.sampling_extra = dict(sampling_extra or {})
        self.llm = llm
        self._sp_cls = sampling_params_cls
        tok = llm.get_tokenizer()
        self.has_chat_template = bool(getattr(tok, "chat_template", None))

    def generate(self, prompts: Sequence[PromptInput], params: SamplingParams) -> list[list[Generation]]:
        """Generate ``params.n`` completions per prompt with vLLM, in input order.

        Args:
            prompts: plain strings or chat messages.
            params: sampling parameters.

        Returns:
            one list of ``params.n`` generations per prompt, in input order.
        """
        if not prompts:
            return []
        sp = self._sp_cls(**sampling_kwargs(params), **self.sampling_extra)
        text_idx: list[int] = []
        chat_idx: list[int] = []
        for i, p in enumerate(prompts):
            (chat_idx if self._as_chat(p) else text_idx).append(i)
        out: list[list[Generation] | None] = [None] * len(prompts)
        if text_idx:
            texts = [_as_text(prompts[i]) for i in text_idx]
            self._place(out, text_idx, self.llm.generate(texts, sp, use_tqdm=False), params.n)
        if chat_idx:
            convs = [list(prompts[i]) for i in chat_idx]
            self._place(out, chat_idx, self.llm.chat(convs, sp, use_tqdm=False), params.n)
        return out  # type: ignore[return-value]

    def stream(self, requests: Iterable[Request | None], *, window: int) -> Iterator[tuple[Request, list[Generation]]]:
        """Keep up to ``window`` requests queued in the engine and yield each one as soon as it finishes.

        vLLM's scheduler batches continuously over everything queued, so a large window (the runners'
        default for vllm is thousands) keeps it saturated with no barrier between chunks: requests are added
        (``LLM.enqueue``/``enqueue_chat``) as others finish, and the engine (in its own process) keeps
        generating while the caller grades and records. A vLLM without ``LLM.enqueue`` gets whole windows per
        ``LLM.generate`` call instead. Requests still queued when the caller stops are aborted. A ``None`` from
        ``requests`` (nothing ready yet) stops the adding until a queued request finishes; with nothing
        queued it ends the stream.

        Raises:
            BackendError: the engine returned a request without a completion.
        """
        engine = getattr(self.llm, "llm_engine", None)
        if not callable(getattr(self.llm, "enqueue", None)) or engine is None:
            yield from generate_windows(self, requests, window=window)
            return
        it = iter(requests)
        waiting: dict[str, Request] = {}
        more = True
        try:
            while True:
                free = window - len(waiting)
                if more and free > 0:
                    new, ended = pull(it, free)
                    more = not ended
                    self._enqueue(new, waiting)
                if not waiting:
                    return
                outs = engine.step()
                if not outs and not engine.has_unfinished_requests():
                    raise BackendError(f"expected vLLM to finish {len(waiting)} more request(s), found its queue "
                                       "empty; this vLLM version's queue API is not supported: please report it.")
                for out in outs:
                    req = waiting.pop(str(out.request_id), None) if out.finished else None
                    if req is not None:
                        yield req, to_generations(out, req.params.n)
        finally:
            if waiting:
                engine.abort_request(list(waiting))

    def _enqueue(self, reqs: Sequence[Request], waiting: dict[str, Request]) -> None:
        """Add requests to the engine (text through ``enqueue``, chat messages through ``enqueue_chat``)."""
        for params, group in by_params(reqs):
            sp = self._sp_cls(**sampling_kwargs(params), **self.sampling_extra)
            chat = [r for r in group if self._as_chat(r.prompt)]
            text = [r for r in group if not self._as_chat(r.prompt)]
            if text:
                ids = self.llm.enqueue([_as_text(r.prompt) for r in text], sp, use_tqdm=False)
                waiting.update(zip(map(_external_id, ids), text))
            if chat:
                ids = self.llm.enqueue_chat([list(r.prompt) for r in chat], sp, use_tqdm=False)
                waiting.update(zip(map(_external_id, ids), chat))

    def _as_chat(self, prompt: PromptInput) -> bool:
        """Chat messages go through the model's chat template when it has one; everything else is text."""
        return not isinstance(prompt, str) and self.has_chat_template

    @staticmethod
    def _place(out: list, idx: list[int], results: Sequence[Any], n: int) -> None:
        results = list(results)
        if len(results) != len(idx):
            raise BackendError(
                f"expected {len(idx)} outputs from vLLM (one per prompt), found {len(results)}"
            )
        for i, ro in zip(idx, results):
            out[i] = to_generations(ro, n)

    def close(self) -> None:
        """Drop the engine (vLLM frees GPU memory when it is garbage-collected)."""
        self.llm = None
