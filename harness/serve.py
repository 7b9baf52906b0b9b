"""``harness serve``: a small OpenAI-compatible HTTP server over any backend (normally ``hf``).

Endpoints: ``POST /v1/completions``, ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``.
Greedy requests that arrive together (within ``batch_wait`` seconds, up to ``max_batch`` prompts) and
share sampling parameters are merged into one ``backend.generate`` call, so many concurrent clients
(the ``openai`` backend sends ``concurrency`` requests at once) fill a batch; sampled requests
(temperature > 0) run alone, so a seeded request gives the same samples whatever else is in flight.
One lock serialises the model. Bad requests get an OpenAI-style JSON error body
``{"error": {"message", "type", "param", "code"}}`` with a 4xx status: among them a prompt or
``max_tokens`` past the model's context (400, checked before the request joins a batch). With an
``api_key``, every ``/v1`` route wants ``Authorization: Bearer KEY`` (401 otherwise), as ``vllm serve``.
Stdlib ``http.server`` only; meant for tests, CPU demos and single-GPU use, not as a production server
(use ``vllm serve`` for that: the ``openai`` backend talks to both).

Examples:
    >>> server = make_server(HFBackend(model="./ckpt"), model_name="./ckpt", port=0)  # doctest: +SKIP
    >>> server.serve_forever()  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.backends.base import Backend, SamplingParams

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
#: OpenAI's documented defaults for /v1/completions when a field is absent.
DEFAULT_MAX_TOKENS = 16


class RequestError(Exception):
    """A client error: becomes a JSON error body with ``status``."""

    def __init__(
        self, message: str, status: int = 400, type_: str = "invalid_request_error", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.param = param


def check_context(backend: Backend | None, prompts: list, params: SamplingParams, chat: bool) -> None:
    """Refuse (400) a prompt, or a prompt plus ``max_tokens``, that the model's context cannot hold.

    Args:
        backend: the served backend (checked when it has ``encode`` and a model config).
        prompts: the request's prompts (strings or chat messages).
        params: the request's sampling parameters.
        chat: a chat request (the prompt is ``messages``).

    Raises:
        RequestError: status 400, ``param`` "prompt"/"messages" or "max_tokens".
    """
    limit = getattr(backend, "context_length", None)  # HFBackend.context_length
    encode = getattr(backend, "encode", None)
    if limit is None or encode is None:
        return
    longest = max(len(encode(p)) for p in prompts)
    if longest >= limit:
        raise RequestError(
            f"This model's maximum context length is {limit} tokens, but the prompt has {longest} tokens; "
            "shorten the prompt.",
            param="messages" if chat else "prompt",
        )
    if longest + params.max_new_tokens > limit:
        raise RequestError(
            f"This model's maximum context length is {limit} tokens, but {longest} prompt tokens plus "
            f"max_tokens {params.max_new_tokens} ask for {longest + params.max_new_tokens}; lower "
            f"max_tokens to {limit - longest} or less.",
            param="max_tokens",
        )


def _number(body: dict, key: str, default: float, lo: float, hi: float, integer: bool = False) -> Any:
    v = body.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
        raise RequestError(f"expected '{key}' to be {'an integer' if integer else 'a number'}, found {v!r}")
    if not lo <= v <= hi:
        raise RequestError(f"expected '{key}' in [{lo}, {hi}], found {v!r}")
    return int(v) if integer else float(v)


def parse_sampling(body: dict) -> SamplingParams:
    """OpenAI request fields -> :class:`SamplingParams` (raises :class:`RequestError` on bad values).

    Args:
        body: the decoded JSON request.

    Returns:
        the sampling parameters (OpenAI defaults: max_tokens 16, temperature 1, top_p 1, n 1).

    Raises:
        RequestError: a field of the wrong type or out of range.
    """
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    stop = body.get("stop")
    if stop is None:
        stop = ()
    elif isinstance(stop, str):
        stop = (stop,)
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stop = tuple(s for s in stop if s)
    else:
        raise RequestError(f"expected 'stop' to be a string or a list of strings, found {stop!r}")
    seed = body.get("seed")
    if seed is None:  # greedy ignores the seed; 0 lets identical greedy requests share a batch
        seed = int(time.time_ns() % (2**31)) if body.get("temperature", 1.0) != 0 else 0
    return SamplingParams(
        max_new_tokens=_number(
            {"max_tokens": max_tokens}, "max_tokens", DEFAULT_MAX_TOKENS, 1, 1 << 20, True
        ),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 1e-6, 1.0),
        n=_number(body, "n", 1, 1, 128, True),
        seed=_number({"seed": seed}, "seed", 0, -(2**63), 2**63 - 1, True),
        stop=stop,
    )


def _messages(body: dict) -> list[dict[str, str]]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise RequestError(f"expected 'messages' to be a non-empty list, found {type(msgs).__name__}")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(f"expected messages[{i}] to be an object with a 'role', found {m!r}"[:300])
        content = m.get("content")
        if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise RequestError(f"expected messages[{i}].content to be a string, found {content!r}"[:300])
        out.append({"role": m["role"], "content": content})
    return out


@dataclass
class _Job:
    prompts: list
    params: SamplingParams
    done: threading.Event = field(default_factory=threading.Event)
    result: list | None = None
    error: BaseException | None = None


class OpenAIServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` holding the backend, the model lock, the greedy-request batcher and
    the served model name. ``stats`` counts requests and ``backend.generate`` calls."""

    daemon_threads = True
    #: listen backlog. socketserver's default of 5 makes a client with 256 requests in flight wait on
    #: SYN retransmits (about 1 s each) for every connection past the fifth; servers such as vLLM's
    #: accept thousands.
    request_queue_size = 2048

    def __init__(
        self,
        address: tuple[str, int],
        backend: Backend | None,
        model_name: str,
        *,
        max_batch: int = 64,
        batch_wait: float = 0.005,
        api_key: str | None = None,
    ) -> None:
        self._jobs: queue.Queue[_Job | None] = queue.Queue()  # before bind: a failed bind calls server_close
        super().__init__(address, Handler)
        self.backend = backend
        self.model_name = model_name
        self.max_batch = max_batch
        self.batch_wait = batch_wait
        self.api_key = api_key
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "generate_calls": 0}
        self._worker = threading.Thread(target=self._batch_loop, name="harness-serve-batcher", daemon=True)
        self._worker.start()

    def server_close(self) -> None:
        self._jobs.put(None)
        super().server_close()

    # -- batching ---------------------------------------------------------------------------------

    def generate(self, prompts: list, params: SamplingParams) -> list:
        """Run ``prompts`` through the backend: merged with other greedy requests, or alone when sampling."""
        if params.temperature > 0:
            with self.lock:
                self.stats["requests"] += 1
                self.stats["generate_calls"] += 1
                return self.backend.generate(prompts, params)
        job = _Job(prompts, params)
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _batch_loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            jobs, n = [first], len(first.prompts)
            deadline = time.monotonic() + self.batch_wait
            while n < self.max_batch:
                try:
                    nxt = self._jobs.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    self._jobs.put(None)
                    break
                jobs.append(nxt)
                n += len(nxt.prompts)
            groups: dict[SamplingParams, list[_Job]] = {}
            for j in jobs:
                groups.setdefault(j.params, []).append(j)
            for params, group in groups.items():
                self._run_group(group, params)

    def _run_group(self, group: list[_Job], params: SamplingParams) -> None:
        prompts = [p for j in group for p in j.prompts]
        try:
            with self.lock:
                self.stats["requests"] += len(group)
                self.stats["generate_calls"] += 1
                results = self.backend.generate(prompts, params)
            start = 0
            for j in group:
                j.result = results[start : start + len(j.prompts)]
                start += len(j.prompts)
        except Exception as e:  # noqa: BLE001 - handed to every waiting request, which reports a 500
            for j in group:
                j.error = e
        finally:
            for j in group:
                j.done.set()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- the two generation endpoints -------------------------------------------------------------

    def completions(self, body: dict, chat: bool) -> dict:
        model = body.get("model")
        if model is not None and model != self.model_name:
            raise RequestError(
                f"The model {model!r} does not exist; this server serves {self.model_name!r}.",
                404,
                "not_found_error",
            )
        if body.get("stream"):
            raise RequestError(
                "expected 'stream' to be false or absent, found true; this server does not stream"
            )
        params = parse_sampling(body)
        if chat:
            prompts: list = [_messages(body)]
        else:
            prompt = body.get("prompt")
            if isinstance(prompt, str):
                prompts = [prompt]
            elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
                prompts = list(prompt)
            else:
                raise RequestError(
                    f"expected 'prompt' to be a string or a list of strings, found {prompt!r}"[:300]
                )
        check_context(self.backend, prompts, params, chat)
        results = self.generate(prompts, params)
        choices, prompt_tokens, completion_tokens = [], 0, 0
        for gens in results:
            prompt_tokens += gens[0].prompt_tokens if gens else 0
            for g in gens:
                completion_tokens += g.tokens
                c: dict[str, Any] = {"index": len(choices), "finish_reason": g.finish_reason}
                if chat:
                    c["message"] = {"role": "assistant", "content": g.text}
                else:
                    c.update(text=g.text, logprobs=None)
                c["completion_tokens"] = g.tokens  # non-standard: exact per-choice count for n > 1
                choices.append(c)
        return {
            "id": ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24],
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class Handler(BaseHTTPRequestHandler):
    server: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args) -> None:  # route access logs through logging
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None
    ) -> None:
        self._send(status, {"error": {"message": message, "type": type_, "param": param, "code": status}})

    def _authorized(self, path: str) -> bool:
        """True when no key is set, the route is not under ``/v1``, or the Bearer token matches."""
        key = self.server.api_key
        if not key or not path.startswith("/v1"):
            return True
        given = self.headers.get("Authorization") or ""
        if hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            return True
        self._error(401, "expected 'Authorization: Bearer <api key>'; found none or a wrong key",
                    "authentication_error")
        return False

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self._authorized(path):
            return
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif path == "/v1/models":
            self._send(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.server.model_name,
                            "object": "model",
                            "created": 0,
                            "owned_by": "mathharness",
                        }
                    ],
                },
            )
        else:
            self._error(404, f"no route GET {path}; try /v1/models or /health", "not_found_error")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return self._error(
                413 if length > 0 else 400, f"expected a Content-Length up to {MAX_BODY_BYTES}"
            )
        raw = self.rfile.read(length)
        if not self._authorized(path):
            return
        if path not in ("/v1/completions", "/v1/chat/completions"):
            return self._error(
                404, f"no route POST {path}; use /v1/completions or /v1/chat/completions", "not_found_error"
            )
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return self._error(400, f"expected a JSON object in the request body, found invalid JSON ({e})")
        if not isinstance(body, dict):
            return self._error(
                400, f"expected a JSON object in the request body, found {type(body).__name__}"
            )
        try:
            self._send(200, self.server.completions(body, chat=path.endswith("chat/completions")))
        except RequestError as e:
            self._error(e.status, str(e), e.type, e.param)
        except Exception as e:  # the model failed: report it, keep serving
            log.exception("generation failed")
            self._error(500, f"generation failed: {type(e).__name__}: {e}", "server_error")


def make_server(
    backend: Backend | None,
    *,
    model_name: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_batch: int = 64,
    api_key: str | None = None,
) -> OpenAIServer:
    """Bind an OpenAI-compatible server for ``backend`` (``port=0`` picks a free port).

    Args:
        backend: any :class:`Backend` (or None, to bind first and set ``server.backend`` before serving).
        model_name: the id clients pass as ``model`` (and ``/v1/models`` lists).
        host: interface to bind.
        port: TCP port; 0 for a free one (read it back from ``server.url``).
        max_batch: most prompts merged from concurrent greedy requests into one ``generate`` call.
        api_key: when set, ``/v1`` routes want ``Authorization: Bearer <api_key>``.

    Returns:
        the bound server; call ``serve_forever()`` (and ``shutdown()`` from another thread).
    """
    return OpenAIServer((host, port), backend, model_name, max_batch=max_batch, api_key=api_key)


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address or a name) only reaches this machine.

    Examples:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    import ipaddress
    import socket

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)
