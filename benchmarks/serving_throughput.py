"""Serving throughput: ``harness eval`` / ``harness synth`` against an OpenAI-compatible server vs a plain
client keeping the same number of requests in flight, in one run.

The server (this file with ``--serve``, a subprocess) is an ``aiohttp`` loopback server speaking
``/v1/completions`` whose per-request latency is lognormal with mean ``--mean`` s (sigma ``--sigma``: a
heavy tail, as long reasoning outputs give), drawn from a hash of the request body, so the same request
takes the same time whoever sends it. It answers solution prompts with a boxed answer (of K solutions, 3 of 4
agree) and teacher new-problem requests with a "New problem: ..." text. It logs every request body.

Each round, per window W (64 and 256):
- eval: ``harness.eval.evaluate`` (the ``openai`` backend, default flags; the default window is 256, so
  at W=64 ``concurrency=64`` is the only flag changed) over GSM8K test + MATH-500, into a fresh run dir:
  task loading, prompts, requests, grading, fsync'd appends, results.json. Then the plain client: the
  exact request bodies the harness sent (from the server's log), W in flight, ``asyncio`` + ``aiohttp``
  with a semaphore, parsing each reply and nothing else. Ratio = plain time / harness time.
- synth: ``synth.pipeline.run_synth`` with an ``openai`` teacher on a plan of ``--units`` teacher units,
  versus the plain client replaying the same teacher requests with W in flight (the replay has no
  dependency between a problem and its solutions, so it is an upper bound for any client).
Rounds alternate the order of the two sides; the best of ``--reps`` per side is compared (shared machine).

Usage: HARNESS_DATA_DIR=../shared/data python3 benchmarks/serving_throughput.py [--reps 2] [--mean 0.5]
       [--sigma 1.0] [--windows 64,256] [--units 300] [--limit N] [--runs eval,synth]

Writes benchmarks/results/serving_throughput.md and serving_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MODEL = "bench-model"


# --- the server ---------------------------------------------------------------------------------------


def latency(body: bytes, mean: float, sigma: float) -> float:
    """Lognormal seconds with the given mean, drawn from the body's hash (same request, same time)."""
    seed = int.from_bytes(hashlib.sha256(body).digest()[:8], "big")
    mu = math.log(mean) - sigma**2 / 2
    return random.Random(seed).lognormvariate(mu, sigma)


def is_solution(prompt: str) -> bool:
    """A solver prompt (eval, or a teacher's solutions), as opposed to a teacher's new-problem request (every
    synth template asks for the problem after "New problem:"; Evol's also say "one final answer")."""
    return "boxed{}" in prompt or "New problem:" not in prompt


def digest(prompt: str) -> int:
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:6], 16)


def reply_text(prompt: str, i: int) -> str:
    if is_solution(prompt):  # K teacher solutions: 3 of 4 agree, so units are accepted and go through dedup
        return f"Step 1: work it out.\nThe answer is $\\boxed{{{7 + (i == 3)}}}$."
    return f"Sure.\nNew problem: A shop sells {digest(prompt)} pencils to {i + 3} students each day. How many pencils?"


def serve(port: int, mean: float, sigma: float) -> None:
    from aiohttp import web

    log: list[str] = []

    async def completions(request: web.Request) -> web.Response:
        raw = await request.read()
        log.append(raw.decode())
        body = json.loads(raw)
        await asyncio.sleep(latency(raw, mean, sigma))
        n = int(body.get("n", 1))
        choices = [{"index": i, "text": reply_text(body.get("prompt", ""), i), "finish_reason": "stop"}
                   for i in range(n)]
        return web.json_response({"id": "cmpl-1", "object": "text_completion", "model": MODEL, "choices": choices,
                                  "usage": {"prompt_tokens": 10, "completion_tokens": 20 * n}})

    async def take_log(request: web.Request) -> web.Response:
        out = list(log)
        log.clear()
        return web.json_response(out)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.add_routes([web.post("/v1/completions", completions), web.get("/log", take_log)])

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}/v1", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the plain client -----------------------------------------------------------------------------------


async def _plain(url: str, bodies: list[str], window: int) -> int:
    import aiohttp

    sem = asyncio.Semaphore(window)
    done = 0

    async def one(session, body: str) -> None:
        nonlocal done
        async with sem, session.post(f"{url}/completions", data=body,
                                     headers={"Content-Type": "application/json"}) as r:
            data = await r.json()
            done += len(data["choices"])

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(one(session, b) for b in bodies))
    return done


def chains(bodies: list[str]) -> list[list[str]]:
    """Teacher requests as dependency chains: a new-problem request, then the solution requests that
    solve the problem its reply wrote (matched through the reply's number); other requests alone."""
    import re

    problems = {digest(json.loads(b)["prompt"]): [b] for b in bodies if not is_solution(json.loads(b)["prompt"])}
    alone = []
    for b in bodies:
        prompt = json.loads(b)["prompt"]
        if not is_solution(prompt):
            continue
        m = re.search(r"A shop sells (\d+) pencils", prompt)
        if m and int(m.group(1)) in problems:
            problems[int(m.group(1))].append(b)
        else:
            alone.append([b])
    return list(problems.values()) + alone


async def _plain_chains(url: str, groups: list[list[str]], window: int) -> None:
    import aiohttp

    sem = asyncio.Semaphore(window)

    async def chain(session, bodies: list[str]) -> None:
        for body in bodies:
            async with sem, session.post(f"{url}/completions", data=body,
                                         headers={"Content-Type": "application/json"}) as r:
                await r.json()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(chain(session, g) for g in groups))


def plain_client(url: str, bodies: list[str], window: int, dependent: bool = False) -> float:
    """Seconds to send ``bodies`` with ``window`` in flight (what a 30-line script does); ``dependent``:
    each solution request only after the new-problem request it solves (as a teacher client must)."""
    t = time.perf_counter()
    asyncio.run(_plain_chains(url, chains(bodies), window) if dependent else _plain(url, bodies, window))
    return time.perf_counter() - t


def take_log(url: str) -> list[str]:
    import requests

    return requests.get(url.replace("/v1", "/log"), timeout=60).json()


# --- the harness sides ------------------------------------------------------------------------------------


def window_kwargs(window: int) -> dict:
    """Config fields for an in-flight window: none at the openai backend's default, else ``concurrency``."""
    from harness.backends import DEFAULT_WINDOW

    return {} if window == DEFAULT_WINDOW["openai"] else {"concurrency": window}


def harness_eval(url: str, window: int, data_dir: str, limit: int | None, tmp: Path) -> tuple[float, int]:
    from harness.eval import EvalConfig, evaluate

    out = Path(tempfile.mkdtemp(dir=tmp))
    cfg = EvalConfig(model=MODEL, tasks=("gsm8k", "math500"), backend="openai", base_url=url, limit=limit,
                     output_dir=str(out / "run"), data_dir=data_dir, **window_kwargs(window))
    t = time.perf_counter()
    evaluate(cfg, progress=False)
    secs = time.perf_counter() - t
    with open(out / "run" / "samples.jsonl") as f:
        return secs, sum(1 for _ in f)


def synth_plan(tmp: Path, units: int) -> Path:
    # a unit is one seed x method; the pipeline makes n_new units per cell over its methods
    cells = [{"task": "math", "subject": s, "level": lv, "n_new": units // 6}
             for s in ("Algebra", "Number Theory", "Prealgebra") for lv in (2, 3)]
    p = tmp / "plan.json"
    p.write_text(json.dumps({"cells": cells}))
    return p


def harness_synth(url: str, window: int, plan: Path, data_dir: str, tmp: Path, index) -> float:
    from synth.pipeline import SynthConfig, run_synth

    out = Path(tempfile.mkdtemp(dir=tmp)) / "sft.jsonl"
    kw = {"teacher_backend": "openai", "teacher_model": MODEL, "teacher_base_url": url, "data_dir": data_dir,
          **window_kwargs(window)}
    t = time.perf_counter()
    run_synth(plan, out, SynthConfig(**kw), test_index=index, progress=False)
    return time.perf_counter() - t


def measure(what: str, w: int, args, url: str, plan: Path, data_dir: str, tmp: Path, index,
            fast_url: str | None = None) -> dict:
    """Best of ``args.reps`` alternating rounds of the harness side and the plain client(s) at window ``w``;
    for synth also the harness against ``fast_url`` (near-zero latency): its fixed cost (seeds, dedup,
    decontamination, writing) that no client-side window can hide."""
    best = {"harness": math.inf, "plain": math.inf, "plain_dep": math.inf, "fixed": math.inf}
    samples = None
    bodies: list[str] = []

    def harness_side():
        take_log(url)
        if what == "eval":
            secs, n = harness_eval(url, w, data_dir, args.limit, tmp)
        else:
            secs, n = harness_synth(url, w, plan, data_dir, tmp, index), None
        return secs, n, take_log(url)

    def plain_side() -> dict:
        t = {"plain": plain_client(url, bodies, w)}
        if what == "synth":
            t["plain_dep"] = plain_client(url, bodies, w, dependent=True)
        take_log(url)
        return t

    for rep in range(args.reps):
        if rep % 2 == 0:
            h, samples, bodies = harness_side()
            t = plain_side()
        else:  # the same requests as the round before
            t = plain_side()
            h, samples, bodies = harness_side()
        t["harness"] = h
        if what == "synth" and fast_url:
            t["fixed"] = harness_synth(fast_url, w, plan, data_dir, tmp, index)
        for k, v in t.items():
            best[k] = min(best[k], v)
        print(f"{what} W={w} rep {rep}: " + " ".join(f"{k} {v:.2f}s" for k, v in t.items())
              + f" ({len(bodies)} requests)", flush=True)
    base = best["plain_dep"] if what == "synth" else best["plain"]
    return {"what": what, "window": w, "requests": len(bodies), "samples": samples,
            "harness_s": round(best["harness"], 2), "plain_s": round(base, 2),
            "plain_independent_s": round(best["plain"], 2) if what == "synth" else None,
            "harness_fixed_s": round(best["fixed"], 2) if what == "synth" and fast_url else None,
            "harness_req_per_s": round(len(bodies) / best["harness"], 1),
            "plain_req_per_s": round(len(bodies) / base, 1), "ratio": round(base / best["harness"], 3),
            "ratio_independent": round(best["plain"] / best["harness"], 3) if what == "synth" else None}


# --- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", action="store_true", help="run the latency server (internal)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mean", type=float, default=0.5)
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--windows", default="64,256")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="first N problems per task (default: all)")
    ap.add_argument("--units", type=int, default=300, help="teacher units in the synth plan")
    ap.add_argument("--runs", default="eval,synth", help="which comparisons (eval, synth)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "serving_throughput"))
    args = ap.parse_args()
    if args.serve:
        serve(args.port, args.mean, args.sigma)
        return

    import logging

    logging.disable(logging.WARNING)
    from harness.io import git_commit, now_iso

    data_dir = os.environ.get("HARNESS_DATA_DIR") or str(REPO.parent / "shared" / "data")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--mean", str(args.mean), "--sigma",
                             str(args.sigma)], stdout=subprocess.PIPE, text=True, env=env)
    fast = subprocess.Popen([sys.executable, __file__, "--serve", "--mean", "0.0001", "--sigma", "0.1"],
                            stdout=subprocess.PIPE, text=True, env=env)
    rows = []
    try:
        url = proc.stdout.readline().strip()
        fast_url = fast.stdout.readline().strip()
        assert url.startswith("http://") and fast_url.startswith("http://"), (url, fast_url)
        index = None
        with tempfile.TemporaryDirectory() as tmpd:
            tmp = Path(tmpd)
            plan = synth_plan(tmp, args.units)
            runs = args.runs.split(",")
            if "synth" in runs:
                from synth.dedup import registered_test_index

                index = registered_test_index(data_dir)
            for w in (int(x) for x in args.windows.split(",")):
                for what in runs:
                    rows.append(measure(what, w, args, url, plan, data_dir, tmp, index, fast_url))
    finally:
        for p in (proc, fast):
            p.terminate()
            p.wait(timeout=10)

    meta = {"commit": git_commit(), "date": now_iso(), "mean_latency_s": args.mean, "sigma": args.sigma,
            "reps": args.reps, "limit": args.limit, "units": args.units, "cpus": os.cpu_count()}
    write_results(Path(args.out), rows, meta)


def write_results(out: Path, rows: list[dict], meta: dict) -> None:
    from tabulate import tabulate

    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    table = tabulate([[r["what"], r["window"], r["requests"], r["harness_s"], r["plain_s"], r["harness_req_per_s"],
                       r["plain_req_per_s"], r["ratio"], r.get("ratio_independent"), r.get("harness_fixed_s")]
                      for r in rows],
                     headers=["run", "in flight", "requests", "harness s", "plain s", "harness req/s",
                              "plain req/s", "harness / plain throughput", "harness / independent replay",
                              "harness s at ~0 latency"],
                     tablefmt="github", missingval="")
    text = (f"# Serving throughput: harness vs a plain client\n\n"
            f"Server: loopback aiohttp, lognormal latency mean {meta['mean_latency_s']} s, sigma {meta['sigma']}. "
            f"Best of {meta['reps']} alternating rounds per side. Commit {meta['commit']}, {meta['date']}, "
            f"{meta['cpus']} CPUs (shared).\n\n"
            "eval: GSM8K test + MATH-500 through `harness.eval.evaluate` with default flags (window "
            "`--concurrency` 256 by default; 64 set explicitly) vs a plain asyncio client sending the same "
            "request bodies with the same number in flight. synth: `run_synth` with an openai teacher vs a "
            "plain client sending the same teacher requests, each solution request after the problem request "
            "it solves (first come, first served: an owed solution request queues behind new problems, where "
            "the harness sends it first); 'independent replay' is the same requests with no dependency at "
            "all (an upper bound for any client); the last column is the same synth run against a server "
            "with ~0 latency (the pipeline's fixed cost: seeds, dedup, decontamination, writing).\n\n"
            f"{table}\n\n"
            "Reproduce: `HARNESS_DATA_DIR=../shared/data python3 benchmarks/serving_throughput.py`\n")
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
