"""``harness serve-reward``: the answer engine as a remote reward model (OpenRLHF's ``--remote_rm_url``).

``POST /get_reward`` with ``{"query": [...], "prompts": [...], "labels": [...]}`` (query = prompt +
response text; labels = reference answers; optional ``tasks``: one registered task name per item)
answers ``{"rewards": [...], "scores": [...], "extra_logs": {...}, "status": [...], "extracted": [...]}``:

- ``rewards``: the configured reward of each item's status (:class:`harness.reward.RewardConfig`);
- ``scores``: 1.0 for a correct answer, else 0.0 (OpenRLHF reads these for dynamic filtering);
- ``extra_logs``: per-item 0/1 lists ``correct``, ``timeout``, ``error`` (OpenRLHF logs their means);
- ``status`` / ``extracted``: each item's reward status and the answer found.

The graded text of each item is its query minus its prompt prefix (where the query holds the prompt
after some decoded special tokens, the text after its first occurrence); a query that does not
contain its prompt is a 400, never a guess. Items are graded by the shared process pool
(``--workers``). ``GET /stats`` gives the status counts since start; ``GET /health`` is always open.
With an ``api_key`` every other route wants ``Authorization: Bearer KEY`` (401 otherwise), as
``harness serve``; bad requests get the same JSON error body with a 4xx status.

Shares :mod:`harness.serve`'s HTTP pieces: the pooled server (bounded connection threads, idle timeout),
body reading (Content-Length or chunked, size-bounded), JSON replies and error bodies, the key check and
``check_bind``.

Examples:
    >>> server = make_reward_server(RewardConfig(workers=2), port=0)  # doctest: +SKIP
    >>> server.serve_forever()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections import Counter

from harness.errors import HarnessError
from harness.reward import RewardConfig, Rewarder, rules_for
from harness.serve import (
    MAX_BODY_BYTES,
    PooledHandler,
    PooledHTTPServer,
    RequestError,
    authorized,
    read_json,
    send_error,
    send_json,
)

log = logging.getLogger(__name__)


def _strings(body: dict, key: str, n: int | None = None, required: bool = True) -> list[str] | None:
    v = body.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise RequestError(f"expected '{key}' to be a list of strings, found {json.dumps(v)[:120]}", param=key)
    if n is not None and len(v) != n:
        raise RequestError(f"expected '{key}' to have one entry per query ({n}), found {len(v)}", param=key)
    return v


def response_text(query: str, prompt: str, i: int = 0) -> str:
    """The response part of ``query`` (= prompt + response).

    Raises:
        RequestError: the query does not contain its prompt.

    Examples:
        >>> response_text("<s>Q: 2+2?\\nA: 4", "Q: 2+2?\\n")
        'A: 4'
    """
    if query.startswith(prompt):
        return query[len(prompt):]
    at = query.find(prompt)
    if at < 0:
        raise RequestError(
            f"expected query[{i}] to start with prompts[{i}] (query = prompt + response), found a query that "
            "does not contain its prompt; send the prompt text exactly as it appears in the query",
            param="query",
        )
    return query[at + len(prompt):]


class RewardServer(PooledHTTPServer):
    """A :class:`harness.serve.PooledHTTPServer` (bounded connection threads, idle timeout) holding the
    :class:`~harness.reward.Rewarder` and the API key."""

    def __init__(self, address: tuple[str, int], config: RewardConfig, api_key: str | None = None, *,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.rewarder = Rewarder(config)
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        super().__init__(address, RewardHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/get_reward"

    def get_reward(self, body: dict) -> dict:
        query = _strings(body, "query")
        assert query is not None
        prompts = _strings(body, "prompts", len(query))
        labels = _strings(body, "labels", len(query))
        tasks = _strings(body, "tasks", len(query), required=False)
        assert prompts is not None and labels is not None
        texts = [response_text(q, p, i) for i, (q, p) in enumerate(zip(query, prompts))]
        try:
            for t in set(tasks or ()):
                rules_for(t)
        except HarnessError as e:  # an unknown task: "did you mean"
            raise RequestError(str(e), param="tasks") from None
        try:
            scored = self.rewarder.score(texts, labels, tasks)
        except HarnessError as e:  # a label without an answer
            raise RequestError(str(e), param="labels") from None
        rewards = [s.reward for s in scored]
        return {
            "rewards": rewards,
            "scores": [float(s.status == "correct") for s in scored],
            "extra_logs": {k: [float(s.status == k) for s in scored] for k in ("correct", "timeout", "error")},
            "status": [s.status for s in scored],
            "extracted": [s.extracted for s in scored],
        }

    def stats(self) -> dict:
        counts: Counter[str] = Counter(self.rewarder.counts)
        return {"counts": dict(counts), "items": sum(counts.values())}


class RewardHandler(PooledHandler):
    """Routes of the reward server; JSON replies, error bodies, body reading and the key check are
    ``harness serve``'s (:mod:`harness.serve` helpers)."""

    server: RewardServer  # type: ignore[assignment]

    def do_GET(self) -> None:
        path = self._route()
        if not authorized(self, self.server.api_key, path):
            return
        if path == "/health":
            send_json(self, 200, {"status": "ok"})
        elif path == "/stats":
            send_json(self, 200, self.server.stats())
        else:
            send_error(self, 404, f"no route GET {path}; try /health or /stats", "not_found_error")

    def do_POST(self) -> None:
        path = self._route()
        try:
            body = read_json(self, self.server.max_body_bytes)
        except RequestError as e:
            if authorized(self, self.server.api_key, path):
                send_error(self, e.status, str(e), e.type, e.param)
            return
        if not authorized(self, self.server.api_key, path):
            return
        if path != "/get_reward":
            return send_error(self, 404, f"no route POST {path}; use /get_reward", "not_found_error")
        try:
            send_json(self, 200, self.server.get_reward(body))
        except RequestError as e:
            send_error(self, e.status, str(e), e.type, e.param)
        except Exception as e:  # noqa: BLE001 - a bug: report it, keep serving
            log.exception("reward failed")
            send_error(self, 500, f"reward failed: {type(e).__name__}: {e}", "server_error")


def make_reward_server(config: RewardConfig, *, host: str = "127.0.0.1", port: int = 8001,
                       api_key: str | None = None) -> RewardServer:
    """Bind a reward server (``port=0`` picks a free port; read it back from ``server.url``).

    Args:
        config: reward values per status, default task, extraction mode, workers, per-item timeout.
        host: interface to bind.
        port: TCP port.
        api_key: when set, every route but ``/health`` wants ``Authorization: Bearer <api_key>``.

    Returns:
        the bound server; call ``serve_forever()`` (and ``shutdown()`` from another thread).
    """
    return RewardServer((host, port), config, api_key=api_key)

