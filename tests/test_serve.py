"""``harness serve``: the OpenAI-compatible HTTP server, run in a thread on loopback over the ``hf``
backend with a tiny real checkpoint, queried with real HTTP requests (``requests``): responses follow
the OpenAI schema, bad requests get a JSON error body with a 4xx status and the server keeps serving,
concurrent greedy requests are merged into fewer ``generate`` calls with unchanged answers, seeded
sampling is reproducible, and the ``harness serve`` command fails with one clear line on a directory that
is not a checkpoint or a busy port.

Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_serve.py``.
"""

from __future__ import annotations

import threading

import pytest
import requests
from click.testing import CliRunner

from harness.backends.hf import HFBackend
from harness.serve import make_server


@pytest.fixture(scope="module")
def server(tiny_chat_checkpoint):
    backend = HFBackend(model=str(tiny_chat_checkpoint), batch_size=4)
    srv = make_server(backend, model_name="tiny", port=0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _error(r: requests.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    err = r.json()["error"]
    assert err["code"] == status and err["type"]
    return err["message"]


def test_health_and_models(server):
    assert requests.get(server.url.replace("/v1", "/health"), timeout=5).json() == {"status": "ok"}
    models = requests.get(f"{server.url}/models", timeout=5).json()
    assert [m["id"] for m in models["data"]] == ["tiny"]


def test_completions_schema(server):
    body = {"model": "tiny", "prompt": ["ab", "What is 3+4?"], "max_tokens": 5, "temperature": 0, "n": 2}
    r = requests.post(f"{server.url}/completions", json=body, timeout=30)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "text_completion" and data["model"] == "tiny"
    assert [c["index"] for c in data["choices"]] == [0, 1, 2, 3]
    assert all(c["finish_reason"] == "length" and isinstance(c["text"], str) for c in data["choices"])
    assert data["usage"]["completion_tokens"] == 4 * 5
    n_tok = [len(server.backend.tokenizer(p)["input_ids"]) for p in body["prompt"]]
    assert data["usage"]["prompt_tokens"] == sum(n_tok)
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + 20


def test_chat_schema(server):
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
        "temperature": 0,
    }
    data = requests.post(f"{server.url}/chat/completions", json=body, timeout=30).json()
    assert data["object"] == "chat.completion"
    (choice,) = data["choices"]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    # the chat template was applied: the prompt is the rendered "<s>user: hi\n<s>assistant: "
    rendered = server.backend.tokenizer("<s>user: hi\n<s>assistant: ", add_special_tokens=False)
    assert data["usage"]["prompt_tokens"] == len(rendered["input_ids"]) > len("hi")


def test_bad_json_is_400_with_json_body(server):
    r = requests.post(
        f"{server.url}/completions",
        data=b'{"prompt": "x", ',
        timeout=5,
        headers={"Content-Type": "application/json"},
    )
    assert "invalid JSON" in _error(r, 400)
    r = requests.post(f"{server.url}/completions", data=b"[1, 2]", timeout=5)
    assert "expected a JSON object" in _error(r, 400)


@pytest.mark.parametrize(
    "path,body,status,needle",
    [
        ("/completions", {"prompt": 5}, 400, "'prompt'"),
        ("/completions", {"prompt": "x", "max_tokens": "ten"}, 400, "'max_tokens'"),
        ("/completions", {"prompt": "x", "temperature": -1}, 400, "'temperature'"),
        ("/completions", {"prompt": "x", "n": 0}, 400, "'n'"),
        ("/completions", {"prompt": "x", "stop": [1]}, 400, "'stop'"),
        ("/completions", {"prompt": "x", "model": "gpt-9"}, 404, "does not exist"),
        ("/completions", {"prompt": "x", "stream": True, "logprobs": 1}, 400, "'stream' with 'logprobs'"),
        ("/completions", {"prompt": "x", "frequency_penalty": 0.5}, 400, "'frequency_penalty' = 0.5 is not served"),
        ("/completions", {"prompt": "x", "no_such_field": 1}, 400, "unsupported field 'no_such_field'"),
        ("/completions", {"prompt": [[1, 2], []]}, 400, "'prompt'"),
        ("/completions", {"prompt": [1, 10**9]}, 400, "token ids in [0,"),
        ("/completions", {"prompt": "x", "stream_options": {"include_usage": True}}, 400, "only allowed with"),
        ("/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}, 400, "role to be one of"),
        ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}, 400,
         "needs 'logprobs'"),
        ("/chat/completions", {"messages": "hi"}, 400, "'messages'"),
        ("/chat/completions", {"messages": [{"role": "user"}]}, 400, "content"),
        ("/embeddings", {"input": "x"}, 404, "no route"),
    ],
)
def test_bad_requests(server, path, body, status, needle):
    r = requests.post(f"{server.url}{path}", json=body, timeout=5)
    assert needle in _error(r, status)


def test_server_survives_errors(server):
    requests.post(f"{server.url}/completions", data=b"not json", timeout=5)
    r = requests.post(f"{server.url}/completions", json={"prompt": "x", "max_tokens": 2}, timeout=30)
    assert r.status_code == 200 and len(r.json()["choices"]) == 1


def test_serve_cli_not_a_checkpoint(tmp_path):
    from harness.cli import main

    result = CliRunner().invoke(main, ["serve", "--model", str(tmp_path), "--port", "0"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: expected a checkpoint directory with config.json")
    assert len(result.output.strip().splitlines()) == 1


def test_serve_cli_port_in_use(tiny_checkpoint):
    import socket

    from harness.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--model", str(tiny_checkpoint), "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: expected to listen on 127.0.0.1:{port}, found Address already in use; "
        "pick another --port (0 picks a free one)."
    )


def test_concurrent_greedy_requests_are_batched(server):
    """Eight clients at once: answers equal each prompt generated alone, in fewer generate calls."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.backends.base import SamplingParams

    prompts = [f"{i} + {i} = ?" * (1 + i % 3) for i in range(8)]
    alone = [server.backend.generate([p], SamplingParams(max_new_tokens=6))[0][0].text for p in prompts]
    before = dict(server.stats)
    barrier = threading.Barrier(len(prompts))

    def ask(p):
        barrier.wait()
        body = {"model": "tiny", "prompt": p, "max_tokens": 6, "temperature": 0}
        return requests.post(f"{server.url}/completions", json=body, timeout=60).json()["choices"][0]["text"]

    with ThreadPoolExecutor(len(prompts)) as pool:
        got = list(pool.map(ask, prompts))
    assert got == alone
    requests_served = server.stats["requests"] - before["requests"]
    calls = server.stats["generate_calls"] - before["generate_calls"]
    assert requests_served == 8 and calls < 8


def test_sampled_requests_reproducible_with_seed(server):
    body = {"model": "tiny", "prompt": "ab", "max_tokens": 6, "temperature": 1.0, "n": 2, "seed": 7}
    a = requests.post(f"{server.url}/completions", json=body, timeout=30).json()["choices"]
    b = requests.post(f"{server.url}/completions", json=body, timeout=30).json()["choices"]
    assert [c["text"] for c in a] == [c["text"] for c in b] and len(a) == 2


# --- requests past the model's context: 400 with an OpenAI-style body, not 500 -------------------------


def _openai_error(r: requests.Response, param: str) -> str:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error" and err["param"] == param and err["code"] == 400
    return err["message"]


def test_prompt_longer_than_context_is_400(server):
    body = {"model": "tiny", "prompt": "x" * 100_000, "max_tokens": 4}
    msg = _openai_error(requests.post(f"{server.url}/completions", json=body, timeout=60), "prompt")
    assert "maximum context length is" in msg and "prompt" in msg
    chat = {"model": "tiny", "messages": [{"role": "user", "content": "y" * 100_000}], "max_tokens": 4}
    _openai_error(requests.post(f"{server.url}/chat/completions", json=chat, timeout=60), "messages")
    # and the server still serves
    ok = requests.post(f"{server.url}/completions", json={"prompt": "ab", "max_tokens": 2}, timeout=30)
    assert ok.status_code == 200


def test_max_tokens_past_context_is_400(server):
    body = {"model": "tiny", "prompt": "ab", "max_tokens": 1 << 20}
    msg = _openai_error(requests.post(f"{server.url}/completions", json=body, timeout=30), "max_tokens")
    assert "max_tokens" in msg


# --- an API key: required off loopback, checked as a Bearer token ----------------------------------------


def test_api_key_checked_as_bearer_token(tiny_checkpoint):
    backend = HFBackend(model=str(tiny_checkpoint))
    srv = make_server(backend, model_name="tiny", port=0, api_key="s3cret")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        body = {"prompt": "ab", "max_tokens": 2}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = requests.post(f"{srv.url}/completions", json=body, headers=headers, timeout=30)
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error", headers
            assert requests.get(f"{srv.url}/models", headers=headers, timeout=30).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert requests.post(f"{srv.url}/completions", json=body, headers=good, timeout=30).status_code == 200
        assert requests.get(srv.url.replace("/v1", "/health"), timeout=5).status_code == 200
    finally:
        srv.shutdown()
        srv.server_close()


def test_serve_off_loopback_without_key_refused(tmp_path, monkeypatch):
    from harness.cli import main

    monkeypatch.delenv("HARNESS_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["serve", "--model", str(tmp_path), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: expected an API key to serve on 0.0.0.0")
    # a key from the environment is enough: it gets past the check (to the missing checkpoint)
    monkeypatch.setenv("HARNESS_API_KEY", "k")
    result = CliRunner().invoke(main, ["serve", "--model", str(tmp_path), "--host", "0.0.0.0", "--port", "0"])
    assert result.output.strip().startswith("Error: expected a checkpoint directory with config.json")


def test_openai_client_gets_the_400_once(server):
    """The openai backend against this server: a prompt past the context is one clear error, not retried."""
    from harness.backends.base import SamplingParams
    from harness.backends.openai import OpenAIBackend
    from harness.errors import BackendError

    before = server.stats["requests"]
    client = OpenAIBackend(model="tiny", base_url=server.url, backoff=0.01)
    with pytest.raises(BackendError, match="found HTTP 400: This model's maximum context length is 2048 tokens"):
        client.generate(["z" * 5000], SamplingParams(max_new_tokens=4))
    assert server.stats["requests"] == before  # refused before it reached the model (test_openai_faults: no retry)
