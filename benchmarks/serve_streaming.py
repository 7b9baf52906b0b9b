"""``harness serve`` streaming vs non-streaming, in one run: time to first token and tokens/s.

A tiny checkpoint (built here, seeded: ``harness.tiny.build_tiny_checkpoint``) is served in a thread on
loopback; a client asks the same greedy completions with and without ``stream=True``
(same prompts, so the same tokens), through a plain ``requests`` client. Measured:
- one request at a time (``--reps`` each, alternating): the non-streamed reply's latency, the streamed reply's
  time to its first text chunk (TTFT) and to its end, and tokens/s of each;
- ``--clients`` concurrent clients (greedy requests share generate calls, streamed or not): total tokens/s.
Ratios compare the two sides of the same run (shared machine: absolute times move with load).

Usage: OMP_NUM_THREADS=2 python3 benchmarks/serve_streaming.py [--reps 5] [--max-tokens 256] [--clients 8]

Writes benchmarks/results/serve_streaming.md and serve_streaming.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROMPTS = ["What is 3+4? ", "Solve 2x+3=7. ", "The sum of the first ten primes is ", "Let n be an integer. "]


def one(url: str, prompt: str, max_tokens: int, stream: bool) -> dict:
    """One completion; a plain ``requests`` client (SSE lines parsed by hand), so the client's own CPU time
    stays small next to the server's (the tests use the official SDK)."""
    body = {"model": "tiny", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}
    t0 = time.perf_counter()
    if not stream:
        r = requests.post(f"{url}/completions", json=body, timeout=600).json()
        t = time.perf_counter() - t0
        return {"ttft": t, "total": t, "tokens": r["usage"]["completion_tokens"], "text": r["choices"][0]["text"]}
    first, text, tokens = None, "", 0
    body.update(stream=True, stream_options={"include_usage": True})
    with requests.post(f"{url}/completions", json=body, timeout=600, stream=True) as r:
        for line in r.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            c = json.loads(line[6:])
            if c["choices"] and c["choices"][0]["text"]:
                if first is None:
                    first = time.perf_counter() - t0
                text += c["choices"][0]["text"]
            if c.get("usage"):
                tokens = c["usage"]["completion_tokens"]
    return {"ttft": first, "total": time.perf_counter() - t0, "tokens": tokens, "text": text}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    import torch

    from harness.backends.hf import HFBackend
    from harness.io import git_commit, now_iso
    from harness.serve import make_server
    from harness.tiny import build_tiny_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = build_tiny_checkpoint(Path(tmp) / "ckpt", hidden_size=128, layers=4)
        srv = make_server(HFBackend(model=str(ckpt), batch_size=args.clients), model_name="tiny", port=0)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        client = srv.url
        one(client, "warm up", 8, False)
        one(client, "warm up", 8, True)
        seq: dict[str, list[dict]] = {"plain": [], "stream": []}
        for rep in range(args.reps):
            for side in (("plain", "stream") if rep % 2 == 0 else ("stream", "plain")):
                for p in PROMPTS:
                    seq[side].append(one(client, p, args.max_tokens, side == "stream"))
        assert [r["text"] for r in seq["plain"][: len(PROMPTS)]] == [r["text"] for r in seq["stream"][: len(PROMPTS)]]
        conc = {}
        for side in ("plain", "stream"):
            prompts = [PROMPTS[i % len(PROMPTS)] + str(i) for i in range(args.clients * 2)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                rows = list(pool.map(lambda p, s=side: one(client, p, args.max_tokens, s == "stream"), prompts))
            wall = time.perf_counter() - t0
            conc[side] = {"tokens_per_s": sum(r["tokens"] for r in rows) / wall,
                          "ttft_median_s": statistics.median(r["ttft"] for r in rows), "wall_s": wall}
        srv.shutdown()
        srv.server_close()

    def summary(rows: list[dict]) -> dict:
        return {"ttft_median_s": statistics.median(r["ttft"] for r in rows),
                "total_median_s": statistics.median(r["total"] for r in rows),
                "tokens_per_s": sum(r["tokens"] for r in rows) / sum(r["total"] for r in rows),
                "tokens_median": statistics.median(r["tokens"] for r in rows)}

    plain, stream = summary(seq["plain"]), summary(seq["stream"])
    res = {
        "provenance": {"commit": git_commit(), "date": now_iso(), "torch": torch.__version__,
                       "threads": torch.get_num_threads(), "reps": args.reps, "max_tokens": args.max_tokens,
                       "clients": args.clients, "model": "tiny llama, hidden 128, 4 layers, char tokenizer"},
        "sequential": {"plain": plain, "stream": stream,
                       "ttft_over_full_reply": stream["ttft_median_s"] / plain["total_median_s"],
                       "stream_over_plain_tokens_per_s": stream["tokens_per_s"] / plain["tokens_per_s"]},
        "concurrent": {**conc, "stream_over_plain_tokens_per_s":
                       conc["stream"]["tokens_per_s"] / conc["plain"]["tokens_per_s"]},
    }
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_streaming.json").write_text(json.dumps(res, indent=2) + "\n")
    p = res["provenance"]
    s, c = res["sequential"], res["concurrent"]
    md = [
        "# `harness serve`: streaming vs non-streaming",
        "",
        f"Generated by `benchmarks/serve_streaming.py` ({p['model']}; greedy, max_tokens {p['max_tokens']}, "
        f"{p['reps']} reps x {len(PROMPTS)} prompts one at a time, then {p['clients']} concurrent clients x 2 "
        f"requests each; commit {p['commit']}, {p['date']}, torch {p['torch']}, {p['threads']} threads, on a "
        "shared 2-core machine: compare the ratios, not the absolute times).",
        "",
        "| one request at a time | non-streamed | streamed |",
        "|---|---|---|",
        f"| time to first token, median | {s['plain']['total_median_s']:.3f} s (the whole reply) | "
        f"{s['stream']['ttft_median_s']:.3f} s |",
        f"| time to the last token, median | {s['plain']['total_median_s']:.3f} s | "
        f"{s['stream']['total_median_s']:.3f} s |",
        f"| tokens/s | {s['plain']['tokens_per_s']:.0f} | {s['stream']['tokens_per_s']:.0f} |",
        "",
        f"- Time to first token, streamed, is **{s['ttft_over_full_reply']:.3f}** of the non-streamed reply's latency.",
        f"- Streamed tokens/s are **{s['stream_over_plain_tokens_per_s']:.2f}x** the non-streamed ones one at a "
        f"time, and **{c['stream_over_plain_tokens_per_s']:.2f}x** with {p['clients']} concurrent clients "
        f"({c['stream']['tokens_per_s']:.0f} vs {c['plain']['tokens_per_s']:.0f} tokens/s; median time to first "
        f"token there {c['stream']['ttft_median_s']:.3f} s streamed vs {c['plain']['ttft_median_s']:.3f} s).",
        "",
    ]
    (out / "serve_streaming.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
