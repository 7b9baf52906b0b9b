"""The ``openai`` backend: any OpenAI-compatible server (``vllm serve``, SGLang, llama.cpp, TGI,
``harness serve``) through ``/completions`` or ``/chat/completions``, over one or several servers.

One HTTP request per prompt (asking for ``n`` choices). :meth:`OpenAIBackend.stream` keeps ``window``
requests in flight (default ``concurrency`` = 64, what vLLM and SGLang need to batch well) and yields
each as soon as it finishes; :meth:`OpenAIBackend.generate` is built on it and returns input order.
Requests run on one asyncio event loop (``aiohttp``) in a background thread, so hundreds in flight
cost one thread.

Several base URLs (data parallel: one server per GPU or node): each try goes to the least-loaded
server that is not cooling down. Each request is retried (``max_retries`` tries in all, ``backoff``
seconds doubling) on connection errors, timeouts, 429 (honouring ``Retry-After``), 5xx, replies cut off
mid-body and replies that are not a generation (null or non-string text, missing or malformed
``choices``, a wrong number of choices); a server that drops connections is avoided for a while and the try goes to another one. A
4xx other than 408/409/429 is never retried. When a request keeps failing, :class:`BackendError` names
the server and what it answered; everything yielded before stays valid.

Text no file can hold (a lone UTF-16 surrogate, which JSON can escape as ``\\ud800``) is replaced by
U+FFFD and the generation flagged (``meta["replaced_chars"]``, recorded as the sample's
``replaced_chars``). Not retried: a greedy request would send the same text again, and the run could
never finish; the rest of the text is a real generation and is graded as it is.

Chat prompts (message lists) always go to ``/chat/completions``; plain strings go to ``/completions``
unless ``endpoint="chat"`` (then each string is sent as one user message).

Examples:
    >>> urls = ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"]
    >>> be = OpenAIBackend(model="Qwen/Qwen2.5-Math-7B", base_url=urls)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import itertools
import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from harness.backends.base import Generation, PromptInput, Request, SamplingParams
from harness.errors import BackendError

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429}  # and every 5xx
#: Bytes of a bad reply quoted in errors.
PREVIEW = 200
#: Longest wait a server's ``Retry-After`` or a dead server's cool-down can impose, in seconds.
MAX_WAIT = 60.0


class MalformedReply(ValueError):
    """A 200 reply that is not a generation (the message says which part)."""


@dataclass
class _Server:
    url: str
    inflight: int = 0
    avoid_until: float = 0.0  # monotonic time before which new tries prefer other servers
    down: int = 0  # consecutive connection failures


@dataclass
class _Failure:
    kind: Literal["connect", "timeout", "status", "reply", "cut"]
    url: str
    detail: str
    retry_after: float | None = None


class OpenAIBackend:
    """Client for one or several OpenAI-compatible servers.

    Args:
        model: the model id the servers know (``/v1/models``).
        base_url: e.g. ``http://127.0.0.1:8000/v1``, or a list of them (data parallel).
        api_key: sent as a Bearer token (default ``$OPENAI_API_KEY``, else none).
        endpoint: "completions" or "chat" for plain-string prompts.
        concurrency: requests in flight at once when the caller gives no window (``generate``,
            and the runners' default).
        timeout: seconds per request try (a long reasoning output takes minutes under load).
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
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        endpoint: Literal["completions", "chat"] = "completions",
        concurrency: int = 64,
        timeout: float = 1800,
        max_retries: int = 5,
        backoff: float = 0.5,
    ) -> None:
        if endpoint not in ("completions", "chat"):
            raise BackendError(f"expected endpoint 'completions' or 'chat', found {endpoint!r}")
        urls = [base_url] if isinstance(base_url, str) or base_url is None else list(base_url)
        bad = [u for u in urls if not isinstance(u, str) or not u.startswith(("http://", "https://"))]
        if bad or not urls:
            raise BackendError(
                f"expected --base-url like http://127.0.0.1:8000/v1, found {(bad or [None])[0]!r}; "
                "start a server with `harness serve --model DIR --port 8000` (or `vllm serve`) and pass "
                "its URL (repeat --base-url for several servers)."
            )
        if concurrency < 1 or max_retries < 1 or not timeout > 0 or backoff < 0:
            raise BackendError(
                "expected concurrency >= 1, max_retries >= 1, timeout > 0 and backoff >= 0, found "
                f"{concurrency}, {max_retries}, {timeout} and {backoff}"
            )
        self.model = model
        self.servers = [_Server(str(u).rstrip("/")) for u in dict.fromkeys(urls)]
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._rr = itertools.count()

    @property
    def base_url(self) -> str:
        """The first server's URL."""
        return self.servers[0].url

    def close(self) -> None:
        """Nothing to free: each :meth:`stream` call opens and closes its own connections and loop."""

    # -- one request ------------------------------------------------------------------------------

    def request_body(self, prompt: PromptInput, params: SamplingParams) -> tuple[str, dict]:
        """The (path under the base URL, JSON body) sent for one prompt.

        Args:
            prompt: a string or chat messages.
            params: sampling parameters.

        Returns:
            ``"/completions"`` or ``"/chat/completions"``, and the JSON body.
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
            return "/completions", body
        body["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        return "/chat/completions", body

    def _pick(self, avoid: _Server | None) -> _Server:
        """The least-loaded server not cooling down (``avoid``, the one that just failed, last)."""
        now = time.monotonic()
        ready = [s for s in self.servers if s.avoid_until <= now] or [
            min(self.servers, key=lambda s: s.avoid_until)
        ]
        rr = next(self._rr)
        n = len(self.servers)
        return min(
            ready, key=lambda s: (s is avoid and len(ready) > 1, s.inflight, (self.servers.index(s) - rr) % n)
        )

    async def _try(self, session, server: _Server, path: str, body: dict, params: SamplingParams):
        """One POST: the generations, or a :class:`_Failure` to retry; raises on a client error."""
        import aiohttp

        url = server.url + path
        timeout = aiohttp.ClientTimeout(total=self.timeout, sock_connect=min(self.timeout, 30.0))
        status = None
        try:
            async with session.post(url, json=body, timeout=timeout) as r:
                status, retry_after = r.status, _retry_after(r.headers.get("Retry-After"))
                raw = await r.read()
        except asyncio.TimeoutError:
            return _Failure("timeout", url, f"no reply within {self.timeout:g} s")
        except (aiohttp.ClientError, OSError) as e:
            if status is not None:  # the server answered, then the body stopped short
                return _Failure("cut", url, f"HTTP {status} whose body was cut off ({type(e).__name__}: "
                                            f"{_first_line(e)})")
            return _Failure("connect", url, f"ConnectionError ({type(e).__name__}: {_first_line(e)})")
        if status == 200:
            try:
                return parse_response(json.loads(raw), params, chat=path == "/chat/completions")
            except (MalformedReply, ValueError) as e:  # ValueError: not JSON
                problem = str(e) if isinstance(e, MalformedReply) else "a body that is not JSON"
                return _Failure("reply", url, f"{problem}: {_preview(raw)}")
        if status in RETRY_STATUS or status >= 500:
            return _Failure("status", url, f"HTTP {status}: {_preview(raw)}", retry_after)
        if status in (401, 403):
            raise BackendError(
                f"expected HTTP 200 from {url}, found HTTP {status}: {_error_message(raw)}; the server refused "
                f"the API key{' (none was sent)' if not self._headers else ''}: set OPENAI_API_KEY (or "
                "--backend-arg api_key=KEY) to the key the server was started with (its --api-key)."
            )
        raise BackendError(
            f"expected HTTP 200 from {url}, found HTTP {status}: {_error_message(raw)}; "
            "check --model (the server's /v1/models lists it), the prompt length and the sampling flags."
        )

    async def _request(self, session, req: Request) -> list[Generation]:
        path, body = self.request_body(req.prompt, req.params)
        last: _Server | None = None
        failure: _Failure | None = None
        for attempt in range(self.max_retries):
            if failure is not None and last is not None:
                await asyncio.sleep(self._wait(failure, last, attempt - 1))
            server = self._pick(last)
            server.inflight += 1
            try:
                out = await self._try(session, server, path, body, req.params)
            finally:
                server.inflight -= 1
            if not isinstance(out, _Failure):
                server.down = 0
                return out
            failure, last = out, server
            log.debug("try %d of %s failed: %s", attempt + 1, out.url, out.detail)
            if out.kind == "connect":
                server.down += 1
                cool = min(self.backoff * 2 ** (server.down - 1), MAX_WAIT)
                if server.down == 1 and len(self.servers) > 1:
                    log.warning("%s: %s; sending its requests to the other servers", server.url, out.detail)
                server.avoid_until = max(server.avoid_until, time.monotonic() + cool)
            elif out.retry_after is not None:
                server.avoid_until = max(server.avoid_until, time.monotonic() + out.retry_after)
        assert failure is not None  # max_retries >= 1: at least one try failed to get here
        raise BackendError(_give_up(failure, self.max_retries, len(self.servers)))

    def _wait(self, failure: _Failure, server: _Server, attempt: int) -> float:
        """Seconds before the next try: none when another server is ready to take a dropped request."""
        now = time.monotonic()
        dropped = failure.kind in ("connect", "timeout") or failure.retry_after is not None
        if dropped and any(s is not server and s.avoid_until <= now for s in self.servers):
            return 0.0
        wait = self.backoff * 2**attempt
        if failure.retry_after is not None:
            wait = max(wait, failure.retry_after)
        return min(wait, MAX_WAIT)

    # -- the protocol -----------------------------------------------------------------------------

    def stream(
        self, requests: Iterable[Request | None], *, window: int | None = None
    ) -> Iterator[tuple[Request, list[Generation]]]:
        """Keep ``window`` requests in flight; yield ``(request, params.n generations)`` as each finishes.

        ``requests`` is consumed lazily, in the caller's thread; it may yield ``None`` for "nothing ready
        yet" (work that depends on answers still in flight): it is asked again after the next answer, and
        the stream ends when it says so with nothing in flight. When a request fails for good, no new
        request is sent, the ones in flight finish and are yielded, then the error is raised (closing
        the generator early cancels what is in flight).

        Args:
            requests: the work, in any number (``None`` items: nothing ready yet).
            window: requests in flight at once (default ``concurrency``).

        Yields:
            each request with its generations, in completion order.

        Raises:
            ValueError: ``window`` < 1.
            BackendError: a request failed after ``max_retries`` tries, or the server rejected it (4xx).
        """
        window = self.concurrency if window is None else window
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        loop = _Loop(self._headers)
        done: queue.Queue = queue.Queue()
        it = iter(requests)
        running: set = set()
        exhausted = False

        def top_up() -> None:
            nonlocal exhausted
            # finished-but-unread results count against a second window, so a slow reader bounds memory
            while not exhausted and len(running) - done.qsize() < window and len(running) < 2 * window:
                try:
                    req = next(it)
                except StopIteration:
                    exhausted = True
                    return
                if req is None:  # nothing ready now (the caller waits on answers in flight): ask again later
                    return
                fut = loop.submit(self._request(loop.session, req))
                fut.add_done_callback(lambda f, r=req: done.put((r, f)))
                running.add(fut)

        error: BaseException | None = None
        try:
            while True:
                top_up()  # also after each yield: the caller may have queued work that depends on it
                if not running:
                    break
                req, fut = done.get()
                running.discard(fut)
                if fut.exception() is not None:
                    error = error or fut.exception()
                    exhausted = True  # send nothing more; what is in flight finishes and is yielded
                    continue
                top_up()  # refill the freed slot before handing control to the caller
                yield req, fut.result()
            if error is not None:
                raise error
        finally:
            loop.close()  # cancels what is still in flight

    def generate(self, prompts: Sequence[PromptInput], params: SamplingParams) -> list[list[Generation]]:
        """Send every prompt (``concurrency`` in flight); return ``params.n`` generations each, in order.

        Args:
            prompts: plain strings or chat messages.
            params: sampling parameters.

        Returns:
            one list of :class:`Generation` per prompt, in input order.

        Raises:
            BackendError: a request failed after ``max_retries`` tries, or the server rejected it.
        """
        out: list[list[Generation] | None] = [None] * len(prompts)
        for req, gens in self.stream((Request(i, p, params) for i, p in enumerate(prompts))):
            out[cast(int, req.key)] = gens
        return out  # type: ignore[return-value]


class _Loop:
    """An asyncio event loop in a daemon thread with one ``aiohttp`` session, for one :meth:`stream`."""

    def __init__(self, headers: dict) -> None:
        try:
            import aiohttp
        except ImportError:
            raise BackendError(
                "expected the aiohttp package (the openai backend's HTTP client), found it missing; "
                "pip install 'aiohttp>=3.9' (a dependency of mathharness)"
            ) from None

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="openai-backend", daemon=True)
        self.thread.start()

        async def make():
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers=headers)

        self.session = asyncio.run_coroutine_threadsafe(make(), self.loop).result()

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        async def shutdown():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.session.close()

        if not self.thread.is_alive() or self.loop.is_closed():  # interpreter shutdown: nothing to wait for
            return
        try:
            self.submit(shutdown()).result(timeout=30)
        except (concurrent.futures.TimeoutError, RuntimeError):  # RuntimeError: a loop stopped under us
            log.debug("openai backend: connections not closed cleanly")
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            if not self.thread.is_alive():
                self.loop.close()


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) -> seconds to wait, capped at :data:`MAX_WAIT`."""
    if not value:
        return None
    try:
        secs = float(value)
    except ValueError:
        try:
            secs = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(secs, 0.0), MAX_WAIT)


def _first_line(e: BaseException) -> str:
    s = str(e)
    return s.splitlines()[0][:PREVIEW] if s else ""


def _preview(raw: bytes) -> str:
    return repr(raw[:PREVIEW].decode("utf-8", "replace")) + ("..." if len(raw) > PREVIEW else "")


def _error_message(raw: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body's first bytes."""
    try:
        err = json.loads(raw).get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg)[:300]
    except (ValueError, AttributeError):
        pass
    return _preview(raw)


def _give_up(failure: _Failure, tries: int, n_servers: int) -> str:
    where = f"after {tries} tries" + (f" over {n_servers} servers" if n_servers > 1 else "")
    if failure.kind == "connect":
        return (
            f"could not reach {failure.url} {where}: {failure.detail}; is the server running? "
            "start one with `harness serve --model DIR --port 8000`."
        )
    if failure.kind == "timeout":
        return (
            f"expected a reply from {failure.url}, found {failure.detail} {where}; raise --request-timeout "
            "(seconds one request may take) or lower --concurrency."
        )
    if failure.kind == "cut":
        return (
            f"expected a whole reply from {failure.url}, found an {failure.detail} {where}: the server answered "
            "but closed the connection before the end of its reply; see the server's log (a crash, or a proxy "
            "limit on reply size or time)."
        )
    if failure.kind == "status":
        return f"expected HTTP 200 from {failure.url}, found {failure.detail} {where}; see the server's log."
    return (
        f"expected a generation from {failure.url}, found {failure.detail} {where}; the server is not "
        "OpenAI-compatible or is failing (nothing of it was recorded as a sample)."
    )


#: Text no file can hold: a UTF-16 surrogate not part of a pair (a JSON reply may escape one, ``"\\ud800"``;
#: ``json.loads`` joins escaped pairs into their character, so whatever is left here is alone).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _choice_text(c: dict, i: int, chat: bool) -> str:
    """The generated text of choice ``i``; raises :class:`MalformedReply` when there is none."""
    if not chat:
        text = c.get("text")
        if not isinstance(text, str):
            raise MalformedReply(f"choices[{i}].text = {json.dumps(text)[:60]}, not a string")
        return text
    msg = c.get("message")
    if not isinstance(msg, dict):
        raise MalformedReply(f"choices[{i}].message = {json.dumps(msg)[:60]}, not an object")
    content = msg.get("content")
    # reasoning parsers (vllm --reasoning-parser) split the thinking off; put it back as it was generated
    reasoning = msg.get("reasoning_content", msg.get("reasoning"))
    if isinstance(reasoning, str) and (content is None or isinstance(content, str)):
        return f"<think>{reasoning}" + ("" if content is None else f"</think>{content}")
    if not isinstance(content, str):
        raise MalformedReply(f"choices[{i}].message.content = {json.dumps(content)[:60]}, not a string")
    return content


def parse_response(data: object, params: SamplingParams, *, chat: bool = False) -> list[Generation]:
    """An OpenAI completions/chat reply -> its ``params.n`` generations, by choice ``index``.

    Per-choice token counts come from a choice's ``completion_tokens`` when the server gives it
    (``harness serve`` does), else ``usage.completion_tokens`` split evenly over the choices.
    Text is also cut at the first stop string, for servers that return it.

    Args:
        data: the decoded JSON reply.
        params: the request's sampling parameters.
        chat: a ``/chat/completions`` reply (text in ``message.content``) rather than ``/completions``.

    Returns:
        the generations, ordered by choice index.

    Raises:
        MalformedReply: ``data`` is not a generation: no ``choices`` list, a number of choices other
            than ``params.n``, a choice that is not an object, bad or repeated indices, or text that
            is not a string. (Lone surrogates in the text are replaced, not refused: see the module
            docstring.)
    """
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        raise MalformedReply(f"'choices' = {json.dumps(choices)[:60]}, not a list")
    if len(choices) != params.n:
        raise MalformedReply(f"{len(choices)} choices where {params.n} were asked for")
    for i, c in enumerate(choices):
        if not isinstance(c, dict):
            raise MalformedReply(f"choices[{i}] = {json.dumps(c)[:60]}, not an object")
    idx = [c.get("index", i) for i, c in enumerate(choices)]
    if sorted(x if isinstance(x, int) and not isinstance(x, bool) else -1 for x in idx) != list(
        range(len(choices))
    ):
        raise MalformedReply(f"choice indices {idx}, not 0..{len(choices) - 1}")
    texts = [_choice_text(c, i, chat) for i, c in enumerate(choices)]
    replaced = [len(_LONE_SURROGATE.findall(t)) for t in texts]
    texts = [_LONE_SURROGATE.sub("\ufffd", t) if k else t for t, k in zip(texts, replaced)]
    raw_usage = data.get("usage") if isinstance(data, dict) else None
    usage: dict = raw_usage if isinstance(raw_usage, dict) else {}
    total = _count(usage.get("completion_tokens"))
    prompt_tokens = _count(usage.get("prompt_tokens"))
    out: list[tuple[int, Generation]] = []
    for i, c in enumerate(choices):
        text = texts[i]
        cut = min((p for p in (text.find(s) for s in params.stop) if p >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
        tokens = c.get("completion_tokens")
        meta: dict[str, bool | int] = {}
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            tokens = round(total / len(choices))
            if len(choices) > 1:
                meta["tokens_estimated"] = True
        if replaced[i]:
            meta["replaced_chars"] = replaced[i]
        reason = "length" if c.get("finish_reason") == "length" else "stop"
        gen = Generation(text=text, tokens=tokens, prompt_tokens=prompt_tokens, finish_reason=reason, meta=meta)
        out.append((idx[i], gen))
    return [g for _, g in sorted(out, key=lambda x: x[0])]


def _count(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0
