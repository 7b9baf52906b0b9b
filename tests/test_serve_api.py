"""``harness serve`` against the official ``openai`` SDK: streaming (the SDK's iterator, ``include_usage``,
tokens sent while the model is still generating), ``logprobs`` and ``echo`` (equal to a forward pass of the
same model computed here), chat ``logprobs``/``top_logprobs``, token-id prompts, chat's default
``max_tokens``, a model without a chat template, ``/v1/models`` and ``system_fingerprint``; and the feature
table of docs/openai-api.md, parsed and called row by row (served -> 200, refused -> 400), so the table and
the server cannot drift. A real server in a thread on loopback over the tiny real checkpoints.

Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_serve_api.py``.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from pathlib import Path

import pytest

from harness.backends.hf import HFBackend
from harness.serve import make_server

openai = pytest.importorskip("openai")
REPO = Path(__file__).resolve().parents[1]


class GatedBackend(HFBackend):
    """The real hf backend whose model thread, once armed, waits after its first streamed token until the
    test has received that token (so a test can prove tokens leave before the generation ends)."""

    armed = False
    first_token = threading.Event()
    release = threading.Event()

    def generate_ids(self, encoded, params, *, logprobs=None, on_token=None):
        if on_token is None or not self.armed:
            return super().generate_ids(encoded, params, logprobs=logprobs, on_token=on_token)

        def gated(i, seq, tok):
            on_token(i, seq, tok)
            if not self.first_token.is_set():
                self.first_token.set()
                assert self.release.wait(60), "the client never received the first token"

        return super().generate_ids(encoded, params, logprobs=logprobs, on_token=gated)


def _serve(backend, **kw):
    srv = make_server(backend, model_name="tiny", port=0, **kw)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture(scope="module")
def server(tiny_chat_checkpoint):
    srv = _serve(GatedBackend(model=str(tiny_chat_checkpoint), batch_size=4))
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)


def _forward_logprobs(backend, ids):
    """Each token's log-probability given the ones before it, from one plain forward pass (row 0: None)."""
    import torch

    with torch.inference_mode():
        logits = backend.model(input_ids=torch.tensor([ids])).logits[0]
    lp = torch.log_softmax(logits.float(), dim=-1)
    return [None] + [lp[i, ids[i + 1]].item() for i in range(len(ids) - 1)], lp


# --- streaming -------------------------------------------------------------------------------------------


def test_streamed_completion_joins_to_the_whole_reply(client):
    whole = client.completions.create(model="tiny", prompt="What is 3+4?", max_tokens=24, temperature=0)
    chunks = list(client.completions.create(model="tiny", prompt="What is 3+4?", max_tokens=24, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert len(texts) > 2 and "".join(texts) == whole.choices[0].text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_streamed_chat_with_n_and_stop(client):
    kw = dict(model="tiny", messages=[{"role": "user", "content": "hi there"}], max_tokens=30, temperature=0.8,
              seed=3, n=2, stop=["e"])
    whole = client.chat.completions.create(**kw)
    got = {0: "", 1: ""}
    roles = set()
    finish = {}
    for c in client.chat.completions.create(**kw, stream=True):
        for ch in c.choices:
            roles.add(ch.delta.role)
            got[ch.index] += ch.delta.content or ""
            if ch.finish_reason:
                finish[ch.index] = ch.finish_reason
    assert "assistant" in roles
    assert [got[i] for i in (0, 1)] == [ch.message.content for ch in whole.choices]
    assert all("e" not in t for t in got.values())
    assert finish == {ch.index: ch.finish_reason for ch in whole.choices}


def test_stream_sends_tokens_while_generating(server, client):
    """The first token reaches the client while the model thread is held right after producing it: a
    server that sent the reply only at the end would never deliver it (the model waits for the client)."""
    be = server.backend
    be.first_token.clear()
    be.release.clear()
    be.armed = True
    try:
        stream = client.completions.create(model="tiny", prompt="ab", max_tokens=40, temperature=0, stream=True)
        first = next(iter(stream))
        assert be.first_token.is_set() and not be.release.is_set()
        assert first.choices[0].text and first.choices[0].finish_reason is None
        be.release.set()
        rest = list(stream)
        assert rest[-1].choices[0].finish_reason in ("stop", "length")
    finally:
        be.armed = False
        be.release.set()


# --- logprobs and echo -----------------------------------------------------------------------------------


def test_echo_logprobs_equal_a_forward_pass(server, client):
    be = server.backend
    prompt = "12+30=42"
    ids = be.encode(prompt)
    r = client.completions.create(model="tiny", prompt=prompt, max_tokens=1, temperature=0, logprobs=3, echo=True)
    (c,) = r.choices
    lp = c.logprobs
    assert c.text.startswith(prompt) and len(lp.tokens) == len(ids) + 1
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    want, dist = _forward_logprobs(be, ids)
    assert lp.token_logprobs[1 : len(ids)] == pytest.approx(want[1:], abs=1e-4)
    for i in range(1, len(ids)):  # the top 3 alternatives at each position, plus the token itself
        top = dist[i - 1].topk(3)
        want_top = {be.tokenizer.decode([t]): v for t, v in zip(top.indices.tolist(), top.values.tolist())}
        assert set(want_top) <= set(lp.top_logprobs[i])
        assert [lp.top_logprobs[i][k] for k in want_top] == pytest.approx(list(want_top.values()), abs=1e-4)
    # the generated token: greedy, so it is the best of its step and its logprob is the step's max
    gen = lp.token_logprobs[-1]
    assert gen == max(lp.top_logprobs[-1].values())
    assert lp.text_offset[0] == 0 and lp.text_offset[1] == len(lp.tokens[0])


def test_echo_with_max_tokens_zero_scores_the_prompt_only(client):
    r = client.completions.create(model="tiny", prompt=["ab", "abc"], max_tokens=0, echo=True, logprobs=0)
    assert [c.text for c in r.choices] == ["ab", "abc"]
    assert [len(c.logprobs.tokens) for c in r.choices] == [2, 3] and r.usage.completion_tokens == 0


def test_completion_logprobs_without_echo(server, client):
    r = client.completions.create(model="tiny", prompt="ab", max_tokens=5, temperature=0, logprobs=2)
    lp = r.choices[0].logprobs
    assert "".join(lp.tokens).replace("</s>", "") == r.choices[0].text  # the end-of-sequence token has no text
    assert len(lp.token_logprobs) == r.usage.completion_tokens
    ids = server.backend.encode("ab") + [server.backend.tokenizer.convert_tokens_to_ids(t) for t in lp.tokens]
    want, _ = _forward_logprobs(server.backend, ids)
    assert lp.token_logprobs == pytest.approx(want[2:], abs=1e-4)
    assert all(len(t) in (2, 3) for t in lp.top_logprobs)


def test_chat_logprobs(client):
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=4,
                                       temperature=0, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert "".join(t.token for t in content).replace("</s>", "") == r.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob == t.top_logprobs[0].logprob for t in content)
    assert all(t.bytes == list(t.token.encode()) for t in content)


# --- token-id prompts --------------------------------------------------------------------------------------


def test_token_id_prompts_equal_text_prompts(server, client):
    be = server.backend
    texts = ["What is 3+4?", "ab"]
    ids = [be.encode(t) for t in texts]
    by_text = client.completions.create(model="tiny", prompt=texts, max_tokens=6, temperature=0)
    by_ids = client.completions.create(model="tiny", prompt=ids, max_tokens=6, temperature=0)
    single = client.completions.create(model="tiny", prompt=ids[0], max_tokens=6, temperature=0)
    assert [c.text for c in by_ids.choices] == [c.text for c in by_text.choices]
    assert single.choices[0].text == by_text.choices[0].text
    assert by_ids.usage.prompt_tokens == sum(map(len, ids))


# --- defaults, templates, models ----------------------------------------------------------------------------


def test_chat_default_max_tokens_is_the_rest_of_the_context(tiny_chat_checkpoint):
    """No max_tokens: generation runs until EOS or the context, bounded by --max-tokens-default (not 16)."""
    srv = _serve(HFBackend(model=str(tiny_chat_checkpoint)), max_tokens_default=40)
    try:
        c = openai.OpenAI(base_url=srv.url, api_key="none", max_retries=0)
        r = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], temperature=0)
        assert r.usage.completion_tokens == 40 and r.choices[0].finish_reason == "length"
        r = c.completions.create(model="tiny", prompt="hi", temperature=0)  # completions: OpenAI's 16
        assert r.usage.completion_tokens == 16
    finally:
        srv.shutdown()
        srv.server_close()


def test_model_without_chat_template_refuses_chat(tiny_checkpoint):
    srv = _serve(HFBackend(model=str(tiny_checkpoint)))
    try:
        c = openai.OpenAI(base_url=srv.url, api_key="none", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="no chat template"):
            c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        assert c.completions.create(model="tiny", prompt="hi", max_tokens=2).choices[0].text is not None
    finally:
        srv.shutdown()
        srv.server_close()


def test_models_and_fingerprint(server, client):
    (m,) = client.models.list().data
    assert m.id == "tiny" and m.model_extra["max_model_len"] == server.backend.context_length == 2048
    r = client.completions.create(model="tiny", prompt="ab", max_tokens=2, n=2, temperature=0)
    assert r.system_fingerprint.startswith("fp_mathharness-") and "transformers-" in r.system_fingerprint
    assert all("completion_tokens" not in (c.model_extra or {}) for c in r.choices)


# --- the feature table of docs/openai-api.md ------------------------------------------------------------


def _table():
    rows = []
    for line in (REPO / "docs" / "openai-api.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == 4 and cells[1] in ("completions", "chat"):
            rows.append((cells[0], cells[1], json.loads(re.sub(r"^`|`$", "", cells[2])), cells[3]))
    return rows


TABLE = _table()


def test_table_covers_every_served_field():
    from harness.serve_openai import NEUTRAL, SERVED

    assert len(TABLE) > 20
    for endpoint, fields in SERVED.items():
        asked = {k for _, e, req, _ in TABLE if e == endpoint for k in req}
        assert set(fields) - {"model", "prompt", "messages"} <= asked, endpoint
    assert set(NEUTRAL) <= {k for *_, req, status in TABLE if status.startswith("refused") for k in req}


@pytest.mark.parametrize("feature,endpoint,request_fields,status", TABLE, ids=[f"{r[1]}:{r[0]}" for r in TABLE])
def test_feature_table_row(client, feature, endpoint, request_fields, status):
    create = client.chat.completions.create if endpoint == "chat" else client.completions.create
    base = {"model": "tiny", "max_tokens": 3}
    base.update({"messages": [{"role": "user", "content": "hi"}]} if endpoint == "chat" else {"prompt": "ab"})
    base.update(request_fields)
    if "max_completion_tokens" in request_fields and "max_tokens" not in request_fields:
        del base["max_tokens"]
    known = set(inspect.signature(create).parameters)
    kw = {k: v for k, v in base.items() if k in known}
    extra = {k: v for k, v in base.items() if k not in known}
    if status.startswith("served"):
        out = create(**kw, extra_body=extra or None)
        if base.get("stream"):
            out = list(out)
            assert out and any(c.choices for c in out)
        else:
            assert out.choices
    else:
        assert status.startswith("refused"), status
        with pytest.raises(openai.BadRequestError) as e:
            create(**kw, extra_body=extra or None)
        assert e.value.status_code == 400
