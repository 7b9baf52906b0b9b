"""``harness serve`` under hostile or unusual clients (issue 20 item 6), with a real server in a thread on
loopback over the tiny real checkpoint and raw sockets where a client library would hide the behaviour: a
15 MB prompt is refused by its size before any tokenizing; idle keep-alive connections are closed after the
idle timeout; 300 silent clients hold at most ``max_connections`` threads (the rest wait or get 503) and the
server still answers afterwards; a chunked request body is read; a POST without a length gets 411; and
``harness eval --backend openai`` with a wrong key says which key to fix (issue 21 item 8).

Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_serve_limits.py``.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
import requests

from harness.backends.hf import HFBackend
from harness.serve import make_server


class CountingBackend(HFBackend):
    """The real hf backend, counting how many prompts it was asked to tokenize."""

    encoded = 0

    def encode(self, prompt):
        type(self).encoded += 1
        return super().encode(prompt)


@pytest.fixture(scope="module")
def backend(tiny_chat_checkpoint):
    return CountingBackend(model=str(tiny_chat_checkpoint), batch_size=4)


def _serve(backend, **kw):
    srv = make_server(backend, model_name="tiny", port=0, **kw)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture(scope="module")
def server(backend):
    srv = _serve(backend, idle_timeout=0.5)
    yield srv
    srv.shutdown()
    srv.server_close()


def _raw(server, data: bytes, timeout: float = 30) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_huge_prompt_refused_before_tokenizing(server, backend):
    before = CountingBackend.encoded
    body = {"model": "tiny", "prompt": "x" * 15_000_000, "max_tokens": 2}
    r = requests.post(f"{server.url}/completions", json=body, timeout=60)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == "prompt" and "--max-prompt-chars" in err["message"] and "15000000" in err["message"]
    chat = {"messages": [{"role": "user", "content": "y" * 600_000}, {"role": "user", "content": "z" * 600_000}]}
    r = requests.post(f"{server.url}/chat/completions", json=chat, timeout=60)
    assert r.status_code == 400 and "--max-prompt-chars" in r.json()["error"]["message"]
    assert CountingBackend.encoded == before  # neither was tokenized
    ok = requests.post(f"{server.url}/completions", json={"prompt": "ab", "max_tokens": 2}, timeout=30)
    assert ok.status_code == 200


def test_body_past_the_limit_is_413(backend):
    srv = _serve(backend, max_body_bytes=4096)
    try:
        r = requests.post(f"{srv.url}/completions", json={"prompt": "x" * 5000}, timeout=30)
        assert r.status_code == 413 and "--max-body-bytes" in r.json()["error"]["message"]
    finally:
        srv.shutdown()
        srv.server_close()


def test_idle_keep_alive_connection_is_closed(server):
    body = json.dumps({"prompt": "ab", "max_tokens": 1}).encode()
    req = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    reply = _raw(server, req)  # returns once the server closes the kept-alive connection
    assert reply.startswith(b"HTTP/1.1 200") and reply.count(b"HTTP/1.1") == 1


def test_slow_clients_hold_a_bounded_number_of_threads(backend):
    srv = _serve(backend, max_connections=8, idle_timeout=2.0)
    host, port = srv.server_address[:2]
    socks = []
    try:
        for _ in range(300):  # silent clients: connected, sending nothing
            socks.append(socket.create_connection((host, port), timeout=30))
        last = socks[-1].recv(4096)  # past 8 served + 8 waiting: refused at once
        assert last.startswith(b"HTTP/1.1 503") and b"Retry-After" in last
        conn_threads = [t for t in threading.enumerate() if t.name.startswith(f"harness-serve-conn-{port}-")]
        assert len(conn_threads) <= 8
        assert srv.refused >= 300 - 16
    finally:
        for s in socks:
            s.close()
    try:  # the server still answers once the silent clients are gone
        r = requests.post(f"{srv.url}/completions", json={"prompt": "ab", "max_tokens": 2}, timeout=60)
        assert r.status_code == 200
    finally:
        srv.shutdown()
        srv.server_close()


def test_chunked_body_is_read(server):
    body = json.dumps({"model": "tiny", "prompt": "What is 3+4?", "max_tokens": 5, "temperature": 0}).encode()
    plain = requests.post(f"{server.url}/completions", data=body, timeout=30).json()
    chunked = requests.post(f"{server.url}/completions", data=iter([body[:10], body[10:25], body[25:]]),
                            timeout=30)  # a generator body: requests sends Transfer-Encoding: chunked
    assert chunked.status_code == 200, chunked.text
    assert chunked.json()["choices"] == plain["choices"]


def test_post_without_length_is_411(server):
    reply = _raw(server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n{}")
    assert reply.startswith(b"HTTP/1.1 411")
    assert b"Content-Length header or Transfer-Encoding: chunked" in reply


def test_unknown_chat_role_is_400(server):
    r = requests.post(f"{server.url}/chat/completions", timeout=30,
                      json={"messages": [{"role": "hacker", "content": "hi"}], "max_tokens": 2})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages" and "'hacker'" in r.text


def test_eval_with_a_wrong_key_names_the_key(backend, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from harness.cli import main

    srv = _serve(backend, api_key="s3cret")
    data = tmp_path / "t.jsonl"
    data.write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    try:
        res = CliRunner().invoke(main, ["eval", "--model", "tiny", "--backend", "openai", "--base-url", srv.url,
                                        "--tasks", str(data), "--max-new-tokens", "2", "--no-progress",
                                        "--output-dir", str(tmp_path / "run")])
    finally:
        srv.shutdown()
        srv.server_close()
    assert res.exit_code == 1
    err = res.output.strip().splitlines()[-1]
    assert err.startswith("Error:") and "HTTP 401" in err and "OPENAI_API_KEY" in err and "api_key" in err
    assert "check --model" not in err
