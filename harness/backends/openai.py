"""The ``openai`` backend: any OpenAI-compatible server (``vllm serve``, SGLang, llama.cpp, TGI,
``harness serve``) through ``/completions`` or ``/chat/completions``.

One HTTP request per prompt (asking for ``n`` choices), at most ``concurrency`` in flight, retried
with exponential backoff on connection errors, timeouts, 429 and 5xx. Results come back in input order.
Chat prompts (message lists) always go to ``/chat/completions``; plain strings go to ``/completions``
unless ``endpoint="chat"`` (then each string is sent as one user message).

Examples:
    >>> url = "http://127.0.0.1:8000/v1"
    >>> be = OpenAIBackend(model="Qwen/Qwen2.5-Math-7B", base_url=url)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from harness.backends.base import Generation, PromptInput, SamplingParams
from harness.errors import BackendError

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIBackend:
    """Client for an OpenAI-compatible server.

    Args:
        model: the model id the server knows (``/v1/models``).
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        api_key: sent as a Bearer token (default ``$OPENAI_API_KEY``, else none).
        endpoint: "completions" or "chat" for plain-string prompts.
        concurrency: requests in flight at once.
        timeout: seconds per request (connect and read).
        max_retries: tries per request before giving up (1 = no retry).
        backoff: seconds before the first retry; doubles each time.

    Raises:
        BackendError: a bad argument.
    """

    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key: str | None = None,
        endpoint: Literal["completions", "chat"] = "completions",
        concurrency: int = 8,
        timeout: float = 60,
        max_retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        import requests

        if endpoint not in ("completions", "chat"):
            raise BackendError(f"expected endpoint 'completions' or 'chat', found {endpoint!r}")
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise BackendError(
                f"expected --base-url like http://127.0.0.1:8000/v1, found {base_url!r}; "
                "start a server with `harness serve --model DIR --port 8000`."
            )
        if concurrency < 1 or max_retries < 1:
            raise BackendError(
                f"expected concurrency >= 1 and max_retries >= 1, found {concurrency} and {max_retries}"
            )
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    # -- one request ------------------------------------------------------------------------------

    def request_body(self, prompt: PromptInput, params: SamplingParams) -> tuple[str, dict]:
        """The (url, JSON body) sent for one prompt.

        Args:
            prompt: a string or chat messages.
            params: sampling parameters.

        Returns:
            the full URL and the JSON body.
        """
        body: dict = {
            "model": self.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": params.n,
            "seed": params.seed,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if isinstance(prompt, str) and self.endpoint == "completions":
            body["prompt"] = prompt
            return f"{self.base_url}/completions", body
        body["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        return f"{self.base_url}/chat/completions", body

    def _post(self, url: str, body: dict) -> dict:
        import requests

        last = ""
        for attempt in range(self.max_retries):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                r = self.session.post(url, json=body, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as e:
                last = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                log.debug("try %d of %s failed: %s", attempt + 1, url, last)
                continue
            if r.status_code in RETRY_STATUS:
                last = f"HTTP {r.status_code}: {_error_message(r)}"
                log.debug("try %d of %s failed: %s", attempt + 1, url, last)
                continue
            if r.status_code != 200:
                raise BackendError(
                    f"expected HTTP 200 from {url}, found HTTP {r.status_code}: {_error_message(r)}; "
                    "check --model (the server's /v1/models lists it) and the sampling flags."
                )
            try:
                data = r.json()
            except ValueError:
                raise BackendError(f"expected a JSON response from {url}, found {r.text[:200]!r}") from None
            if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
                raise BackendError(f"expected a response with 'choices' from {url}, found {str(data)[:200]}")
            return data
        raise BackendError(
            f"could not reach {url} after {self.max_retries} tries: {last}; is the server running? "
            "start one with `harness serve --model DIR --port 8000`."
        )

    def _one(self, prompt: PromptInput, params: SamplingParams) -> list[Generation]:
        url, body = self.request_body(prompt, params)
        return parse_response(self._post(url, body), params)

    # -- the protocol -----------------------------------------------------------------------------

    def generate(self, prompts: Sequence[PromptInput], params: SamplingParams) -> list[list[Generation]]:
        """Send every prompt (``concurrency`` at a time); return ``params.n`` generations each, in order.

        Args:
            prompts: plain strings or chat messages.
            params: sampling parameters.

        Returns:
            one list of :class:`Generation` per prompt, in input order.

        Raises:
            BackendError: the server is unreachable after ``max_retries`` tries, or rejects a request.
        """
        if not prompts:
            return []
        if len(prompts) == 1 or self.concurrency == 1:
            return [self._one(p, params) for p in prompts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            futures = [pool.submit(self._one, p, params) for p in prompts]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def close(self) -> None:
        self.session.close()


def _error_message(r) -> str:
    try:
        err = r.json().get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        return str(msg)[:300]
    except Exception:  # noqa: BLE001 - any body: fall back to the raw text
        return r.text[:300].replace("\n", " ")


def parse_response(data: dict, params: SamplingParams) -> list[Generation]:
    """An OpenAI completions/chat response -> one :class:`Generation` per choice, by ``index``.

    Per-choice token counts come from a choice's ``completion_tokens`` when the server gives it
    (``harness serve`` does), else ``usage.completion_tokens`` split evenly over the choices.
    Text is also cut at the first stop string, for servers that return it.

    Args:
        data: the decoded JSON response.
        params: the request's sampling parameters.

    Returns:
        the generations, ordered by choice index.
    """
    choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
    usage = data.get("usage") or {}
    total = usage.get("completion_tokens") or 0
    prompt_tokens = usage.get("prompt_tokens") or 0
    out = []
    for c in choices:
        msg = c.get("message")
        text = (msg.get("content") if isinstance(msg, dict) else c.get("text")) or ""
        cut = min((p for p in (text.find(s) for s in params.stop) if p >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
        tokens = c.get("completion_tokens")
        meta = {}
        if not isinstance(tokens, int):
            tokens = round(total / max(len(choices), 1))
            if len(choices) > 1:
                meta["tokens_estimated"] = True
        reason = "length" if c.get("finish_reason") == "length" else "stop"
        out.append(
            Generation(text=text, tokens=tokens, prompt_tokens=prompt_tokens, finish_reason=reason, meta=meta)
        )
    return out
