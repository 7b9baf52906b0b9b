"""The ``openai`` backend against a fault-injection server: a real loopback HTTP server in a thread
whose replies a test scripts per request (malformed generations of every shape, 429 with
``Retry-After``, 500s, a 400, requests held until an event, and a server that dies mid-run, closing
its listening socket and every open connection).

What must hold: a reply that is not a generation is retried and never becomes a sample; when it keeps
failing, one error line names the server and what it sent; HTTP errors say what the server answered;
a 400 is not retried; answers that came back are never thrown away when another request fails;
several servers share the load by least in-flight requests and a server that dies is replaced by the
others. Tests wait on events, never on fixed sleeps.

Run: ``python3 -m pytest -q tests/test_openai_faults.py``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.backends.base import Request, SamplingParams
from harness.backends.openai import OpenAIBackend
from harness.errors import BackendError

WAIT = 30  # seconds: an upper bound on waiting for an event, never a sleep


def answer(prompt: str, n: int = 1) -> dict:
    """The good reply for ``prompt``: ``n`` choices of ``"echo " + prompt``."""
    return {
        "choices": [{"index": i, "text": f"echo {prompt}", "finish_reason": "stop"} for i in range(n)],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3 * n},
    }


class FaultServer:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 whose ``script(body, i)`` picks each POST's reply.

    ``script`` returns ``(status, payload, headers)`` where ``payload`` is a JSON-able object or raw
    bytes; or ``"die"`` to crash the server (no reply; listening socket and every connection closed);
    or ``None`` for the good reply. ``i`` counts POSTs from 0. ``answered`` lists the prompts that got
    a 200 reply, in order.
    """

    def __init__(self, script: Callable[[dict, int], object] | None = None) -> None:
        self.script = script or (lambda body, i: None)
        self.seen: list[tuple[float, dict]] = []
        self.answered: list[str] = []
        self.lock = threading.Lock()
        self.dead = threading.Event()
        self.conns: set[socket.socket] = set()
        fault = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fault.lock:
                    i = len(fault.seen)
                    fault.seen.append((time.monotonic(), body))
                action = fault.script(body, i)
                if action == "die":
                    fault.kill()
                    return
                if fault.dead.is_set():
                    return
                status, payload, headers = action or (200, answer(body.get("prompt"), body.get("n", 1)), {})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if status == 200:
                    with fault.lock:
                        fault.answered.append(body.get("prompt"))

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # a window of 256 connects at once (socketserver's default is 5)

            def handle_error(self, request, client_address):
                pass  # a connection the test cut on purpose (kill, client timeout)

            def process_request(self, request, client_address):
                with fault.lock:
                    fault.conns.add(request)
                super().process_request(request, client_address)

        self.srv = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_port}/v1"
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def prompts(self) -> list[str]:
        with self.lock:
            return [b.get("prompt") for _, b in self.seen]

    def kill(self) -> None:
        """Crash: stop accepting (connections are refused from now on) and drop every open connection."""
        if self.dead.is_set():
            return
        self.dead.set()
        self.srv.socket.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.dead.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def fault_server():
    """Start fault servers (``fault_server(script)``); all are stopped at the end of the test."""
    started: list[FaultServer] = []

    def start(script=None) -> FaultServer:
        started.append(FaultServer(script))
        return started[-1]

    yield start
    for s in started:
        s.close()


def client(url, **kw) -> OpenAIBackend:
    kw = {"max_retries": 3, "backoff": 0.01, "timeout": WAIT, **kw}
    return OpenAIBackend(model="m", base_url=url, **kw)


def reqs(prompts, **params) -> list[Request]:
    return [Request(p, p, SamplingParams(max_new_tokens=8, **params)) for p in prompts]


# --- replies that are not a generation -----------------------------------------------------------

MALFORMED = {
    "text null": {"choices": [{"index": 0, "text": None}]},
    "text number": {"choices": [{"index": 0, "text": 12345}]},
    "no choices": {"id": "x", "usage": {}},
    "choices null": {"choices": None},
    "choices empty": {"choices": []},
    "choice a string": {"choices": ["oops"]},
    "two choices for n=1": {"choices": [{"index": 0, "text": "a"}, {"index": 1, "text": "b"}]},
    "repeated index": {"choices": [{"index": 1, "text": "a"}]},
    "a list": [1, 2],
    "not json": b"<html>502 Bad Gateway</html>",
    "empty body": b"",
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_malformed_reply_is_retried_and_never_a_sample(fault_server, shape):
    srv = fault_server(lambda body, i: (200, MALFORMED[shape], {}) if i == 0 else None)
    out = client(srv.url).generate(["q1"], SamplingParams(max_new_tokens=8))
    assert [g.text for g in out[0]] == ["echo q1"]
    assert srv.prompts() == ["q1", "q1"]


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_malformed_reply_that_persists_is_one_error_naming_the_server(fault_server, shape):
    srv = fault_server(lambda body, i: (200, MALFORMED[shape], {}) if body["prompt"] == "bad" else None)
    got = []
    with pytest.raises(BackendError) as e:
        for req, gens in client(srv.url).stream(reqs(["good", "bad", "later"]), window=1):
            got.append((req.key, [g.text for g in gens]))
    assert got == [("good", ["echo good"])]  # nothing made up for "bad", "later" never sent
    msg = str(e.value)
    assert msg.startswith(f"expected a generation from {srv.url}/completions, found ")
    assert "after 3 tries" in msg and "\n" not in msg
    assert srv.prompts() == ["good", "bad", "bad", "bad"]


def test_chat_reply_with_null_content_is_not_a_generation(fault_server):
    bad = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}
    srv = fault_server(lambda body, i: (200, bad, {}))
    be = client(srv.url, endpoint="chat", max_retries=2)
    with pytest.raises(BackendError, match=r"choices\[0\]\.message\.content = null, not a string"):
        be.generate(["q"], SamplingParams())


def test_chat_reasoning_split_is_put_back(fault_server):
    """vLLM's reasoning parser returns the thinking apart; the sample is the text as generated."""
    msg = {"role": "assistant", "content": "42", "reasoning_content": "think hard"}
    srv = fault_server(lambda body, i: (200, {"choices": [{"index": 0, "message": msg}]}, {}))
    (gens,) = client(srv.url, endpoint="chat").generate(["q"], SamplingParams())
    assert gens[0].text == "<think>think hard</think>42"


def test_choices_in_index_order_with_n(fault_server):
    two = {"choices": [{"index": 1, "text": "second"}, {"index": 0, "text": "first"}]}
    srv = fault_server(lambda body, i: (200, two, {}))
    (gens,) = client(srv.url).generate(["q"], SamplingParams(n=2, temperature=1.0))
    assert [g.text for g in gens] == ["first", "second"]


# --- HTTP statuses ---------------------------------------------------------------------------------


def test_429_honours_retry_after(fault_server):
    srv = fault_server(lambda body, i: (429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
                       if i == 0 else None)
    out = client(srv.url).generate(["q"], SamplingParams())
    assert out[0][0].text == "echo q"
    (t0, _), (t1, _) = srv.seen
    assert t1 - t0 >= 1.0  # backoff alone would have retried after 0.01 s


def test_500_retried_then_reported_with_what_the_server_said(fault_server):
    srv = fault_server(lambda body, i: (500, b"boom: CUDA out of memory", {}))
    with pytest.raises(BackendError) as e:
        client(srv.url).generate(["q"], SamplingParams())
    msg = str(e.value)
    assert msg.startswith(f"expected HTTP 200 from {srv.url}/completions, found HTTP 500: 'boom: CUDA out of memory'")
    assert "after 3 tries" in msg and "could not reach" not in msg and "is the server running" not in msg
    assert len(srv.seen) == 3


def test_400_is_not_retried(fault_server):
    err = {"error": {"message": "This model's maximum context length is 4096 tokens", "type": "BadRequestError"}}
    srv = fault_server(lambda body, i: (400, err, {}))
    with pytest.raises(BackendError, match="found HTTP 400: This model's maximum context length is 4096"):
        client(srv.url).generate(["q"], SamplingParams())
    assert len(srv.seen) == 1


def test_timeout_is_reported(fault_server):
    release = threading.Event()
    srv = fault_server(lambda body, i: release.wait(WAIT) and None)
    try:
        with pytest.raises(BackendError, match=r"found no reply within 0.2 s after 2 tries"):
            client(srv.url, timeout=0.2, max_retries=2).generate(["q"], SamplingParams())
    finally:
        release.set()


def test_failed_request_keeps_answers_that_came_back(fault_server):
    """"bad" fails for good while seven others are in flight; their answers are yielded, then the error."""
    failed = threading.Event()

    def script(body, i):
        if body["prompt"] == "bad":
            if sum(b["prompt"] == "bad" for _, b in srv.seen) == 3:
                failed.set()
            return 500, b"internal error", {}
        failed.wait(WAIT)  # hold the good ones until "bad" has failed for good
        return None

    srv = fault_server(script)
    prompts = [f"p{i}" for i in range(7)] + ["bad"]
    got = {}
    with pytest.raises(BackendError, match="HTTP 500"):
        for req, gens in client(srv.url).stream(reqs(prompts), window=8):
            got[req.key] = gens[0].text
    assert got == {p: f"echo {p}" for p in prompts if p != "bad"}


# --- servers that die ------------------------------------------------------------------------------


def test_single_server_dies_mid_run(fault_server):
    """It answers five then crashes: those five are yielded, the rest is one clear error, none made up."""
    srv = fault_server(lambda body, i: "die" if i == 5 else (200, answer(body["prompt"]), {"Connection": "close"}))
    got = []
    with pytest.raises(BackendError) as e:
        for req, gens in client(srv.url).stream(reqs([f"p{i}" for i in range(20)]), window=1):
            got.append(req.key)
            assert gens[0].text == f"echo {req.key}"
    assert got == srv.answered == [f"p{i}" for i in range(5)]
    assert str(e.value).startswith(f"could not reach {srv.url}/completions after 3 tries: ConnectionError")


def test_two_servers_one_dies_the_other_finishes(fault_server):
    a = fault_server(lambda body, i: "die" if i >= 3 else None)
    b = fault_server()
    prompts = [f"p{i}" for i in range(40)]
    got = [req.key for req, gens in client([a.url, b.url]).stream(reqs(prompts), window=4)
           if gens[0].text == f"echo {req.key}"]
    assert sorted(got) == sorted(prompts)  # every answer once, all correct
    assert len(a.answered) <= 3 and set(a.answered) | set(b.answered) == set(prompts)


def test_least_loaded_routing(fault_server):
    """Server a holds its requests; b answers at once: new requests go to b, not round robin."""
    release = threading.Event()
    a = fault_server(lambda body, i: release.wait(WAIT) and None)
    b = fault_server()
    prompts = [f"p{i}" for i in range(24)]
    got = []
    for req, _gens in client([a.url, b.url]).stream(reqs(prompts), window=4):
        got.append(req.key)
        if len(got) == len(prompts) - len(a.seen):
            release.set()
    assert sorted(got) == sorted(prompts)
    assert len(a.seen) <= 2 and len(b.seen) == len(prompts) - len(a.seen)


def test_all_servers_down_is_one_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(BackendError) as e:
        client([url, url.replace("127.0.0.1", "localhost")]).generate(["x"], SamplingParams())
    assert str(e.value).startswith("could not reach http://") and "over 2 servers" in str(e.value)


def test_stream_window_bounds_requests_in_flight(fault_server):
    """With window 3 the server holds exactly 3 requests at a time (a barrier of 3 passes), never 4."""
    lock = threading.Lock()
    state = {"now": 0, "most": 0}
    barrier = threading.Barrier(3, timeout=WAIT)

    def script(body, i):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        barrier.wait()
        with lock:
            state["now"] -= 1

    srv = fault_server(script)
    got = [r.key for r, _ in client(srv.url).stream(reqs([f"p{i}" for i in range(30)]), window=3)]
    assert sorted(got) == sorted(f"p{i}" for i in range(30)) and state["most"] == 3
    assert len(srv.seen) == 30


def test_stream_feeder_may_say_nothing_ready_yet(fault_server):
    """A feeder whose next requests depend on answers in flight yields None; the stream asks again after
    each answer, so follow-ups go out in the same stream (no second pass), and it ends when the feeder
    has nothing and nothing is in flight."""
    srv = fault_server()
    params = SamplingParams(max_new_tokens=4)
    follow: list[Request] = []
    asks = {"none": 0}

    def feeder():
        yield from [Request(f"a{i}", f"a{i}", params) for i in range(3)]
        while True:
            if follow:
                yield follow.pop()
            else:
                asks["none"] += 1
                yield None

    got = []
    for req, gens in client(srv.url).stream(feeder(), window=8):
        got.append(req.key)
        if req.key.startswith("a"):
            follow.append(Request("b" + req.key, gens[0].text, params))
    assert sorted(got) == ["a0", "a1", "a2", "ba0", "ba1", "ba2"]
    assert sorted(srv.prompts()) == ["a0", "a1", "a2", "echo a0", "echo a1", "echo a2"]
    assert asks["none"] >= 1


# --- through `harness eval` ------------------------------------------------------------------------------


@pytest.mark.slow
def test_eval_null_text_is_an_error_never_a_sample_and_resume_finishes(fault_server, tmp_path, data_dir):
    """Issue 14.1: a server answering one prompt with ``"text": null`` stops the run with one Error line
    naming the server; nothing is recorded for that prompt, the other answers are kept; the rerun
    against a healthy server sends only the missing prompt."""
    from click.testing import CliRunner

    from harness.cli import main

    with open(data_dir / "gsm8k" / "test.jsonl") as f:
        poison = json.loads([next(f) for _ in range(4)][3])["question"]
    healthy = threading.Event()

    def script(body, i):
        if healthy.is_set() or poison not in body["prompt"]:
            return None
        return 200, {"choices": [{"index": 0, "text": None, "finish_reason": "stop"}]}, {}

    srv = fault_server(script)
    out = tmp_path / "run"
    args = ["eval", "--model", "m", "--backend", "openai", "--base-url", srv.url, "--tasks", "gsm8k",
            "--limit", "6", "--data-dir", str(data_dir), "--output-dir", str(out), "--no-progress",
            "--backend-arg", "backoff=0.01"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in res.output
    assert srv.url in errors[0] and "choices[0].text = null" in errors[0]
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 5 and all(poison not in s["prompt"] for s in samples)
    assert all(s["output"] == "echo " + s["prompt"] for s in samples)
    sent = len(srv.seen)
    healthy.set()
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted(s["id"] for s in samples) == sorted({s["id"] for s in samples}) and len(samples) == 6
    assert [b["prompt"] for _, b in srv.seen[sent:]] == [next(s["prompt"] for s in samples if poison in s["prompt"])]


@pytest.mark.slow
def test_eval_over_two_servers_one_dies(fault_server, tmp_path, data_dir):
    """`harness eval` with two --base-url: one server crashes on its second request; the run finishes on
    the other with every sample once and exit 0."""
    from click.testing import CliRunner

    from harness.cli import main

    a = fault_server(lambda body, i: "die" if i >= 1 else None)
    b = fault_server()
    out = tmp_path / "run"
    res = CliRunner().invoke(main, [
        "eval", "--model", "m", "--backend", "openai", "--base-url", a.url, "--base-url", b.url,
        "--tasks", "gsm8k", "--limit", "8", "--data-dir", str(data_dir), "--output-dir", str(out), "--no-progress",
        "--backend-arg", "backoff=0.01"])
    assert res.exit_code == 0, res.output
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 8 and len({s["id"] for s in samples}) == 8
    assert all(s["output"] == "echo " + s["prompt"] for s in samples)
    assert a.dead.is_set() and len(a.seen) >= 2 and len(b.answered) >= 7
