"""``harness clean`` at scale, and the choice of MinHash implementation.

Data: problems of the GSM8K and MATH train splits with their numbers varied (each copy draws new numbers,
so copies are distinct problems), plus near duplicates (a word changed, same numbers), exact duplicates,
and planted test problems of every registered task with data: verbatim and with spacing, punctuation
and case edits. Planted rows carry a ``planted`` field, so the copies left in the output are counted.

Two measurements, written to ``benchmarks/results/clean_scale.{md,json}``:

- ``scale``: ``harness clean`` (a subprocess, 2 workers) at each row count: wall time, CPU time, peak RSS of
  the whole process tree, rows/s, near duplicates found, planted copies left.
- ``minhash``: MinHash signatures of the same rows by the earlier numpy code (per-row loop, its formula),
  ``datasketch`` 2.x and ``rensa``: seconds, signature memory, and near duplicates found through the same
  LSH and verification (so the counts differ only by the hash family).

Run (the machine's load is recorded with the results):
    nice python3 benchmarks/clean_scale.py --rows 100000,1000000 --minhash-rows 1000000
    nice python3 benchmarks/clean_scale.py --rows 2500000 --append
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"
_NUM = re.compile(r"\d+")


def _vary(text: str, rng: random.Random) -> str:
    return _NUM.sub(lambda m: str(rng.randint(2, 10 ** len(m.group()) + 8)), text)


def _edits(q: str, rng: random.Random) -> list[str]:
    """A test problem verbatim and with spacing, punctuation and case edits."""
    punct = re.sub(r"([,.?!;:])(\s|$)", r" \1\2", q).rstrip(".?! ")  # sentence punctuation moved or dropped
    return [q, "  " + re.sub(r" ", "   ", q) + "\n", punct, q.upper() if rng.random() < 0.5 else q.lower(),
            re.sub(r"\s+", "\n", q)]


def build(n_rows: int, path: Path, seed: int = 0, planted_per_task: int = 40) -> dict:
    """Write the benchmark file; returns what was planted."""
    from harness.data import get_task, load_task, task_names
    from harness.errors import HarnessError

    rng = random.Random(seed)
    base = [(p.question, p.solution[:400]) for t in ("gsm8k", "math") for p in load_task(t, "train")]
    planted = []
    for t in task_names():
        for split in [s for s in get_task(t).splits if s != "train"]:
            try:
                probs = load_task(t, split, allow_hub=False)
            except HarnessError:
                continue
            for p in rng.sample(probs, min(planted_per_task, len(probs))):
                planted += [(f"{t}:{p.id}", e) for e in _edits(p.question, rng)]
    n_near, n_exact = n_rows // 50, n_rows // 50
    slots = np.random.default_rng(seed).permutation(n_rows)
    kinds = np.zeros(n_rows, np.int8)  # 0 plain, 1 near dup, 2 exact dup, 3 planted
    kinds[slots[:n_near]] = 1
    kinds[slots[n_near:n_near + n_exact]] = 2
    kinds[slots[n_near + n_exact:n_near + n_exact + len(planted)]] = 3
    recent: list[str] = []
    k_plant = 0
    with open(path, "w") as f:
        for i in range(n_rows):
            kind = kinds[i] if (recent or kinds[i] == 3) else 0
            row: dict = {}
            if kind == 3:
                row["planted"], q = planted[k_plant]
                k_plant += 1
                sol = "..."
            elif kind == 2:
                q = rng.choice(recent)
                sol = "A copy."
            elif kind == 1:
                w = rng.choice(recent).split(" ")
                j = rng.randrange(len(w))
                w[j] = {"the": "a", "a": "the"}.get(w[j], w[j] + "s")
                q, sol = " ".join(w), "A near copy."
            else:
                q, sol = base[rng.randrange(len(base))]
                q = _vary(q, rng)
                recent.append(q)
                if len(recent) > 2000:
                    recent = recent[-1000:]
            row.update(question=q, response=sol + " The answer is $\\boxed{1}$.")
            f.write(json.dumps(row) + "\n")
    return {"rows": n_rows, "planted": len(planted), "near_planted": n_near, "exact_planted": n_exact,
            "bytes": path.stat().st_size}


def _tree_rss(proc) -> int:
    import psutil

    try:
        return proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    except psutil.Error:  # a child ended between the listing and the read
        return 0


def run_clean(path: Path, out: Path, workers: int = 2) -> dict:
    """Run ``harness clean`` in a subprocess; wall time, CPU time and peak tree RSS."""
    import resource

    import psutil

    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "clean", str(path), "--out", str(out),
           "--workers", str(workers), "--no-progress", "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc = psutil.Process(p.pid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = 0
    while p.poll() is None:
        peak = max(peak, _tree_rss(proc))
        time.sleep(0.2)
    wall = time.time() - t0
    so, se = p.communicate()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # the clean process and its workers, all waited for
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    if p.returncode:
        raise RuntimeError(f"harness clean failed: {se.decode()[-2000:]}")
    rep = json.loads(so.decode()[: so.decode().rindex("}") + 1])
    with open(out) as f:
        left = sum(1 for line in f if '"planted"' in line)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_gb": round(peak / 2**30, 2),
            "rows_per_s": round(rep["counts"]["rows_in"] / wall), **rep["counts"], "planted_left": left,
            "by_test_set": rep["decontam"]["by_test_set"]}


# --- MinHash implementations compared --------------------------------------------------------------------------


def _numpy_old(shingles: list[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    """The earlier synth/dedup.py signature loop (one row at a time, its formula)."""
    rng = np.random.default_rng(seed)
    prime = np.uint64((1 << 61) - 1)
    a = rng.integers(1, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
    sig = np.empty((len(shingles), num_perm), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r, s in enumerate(shingles):
            h = s % prime if s.size else np.zeros(1, dtype=np.uint64)
            sig[r] = ((h[:, None] * a[None, :] + b[None, :]) % prime).min(axis=0)
    return sig


def _datasketch(shingles: list[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    from datasketch import MinHash

    sig = np.empty((len(shingles), num_perm), dtype=np.uint64)
    for s in range(0, len(shingles), 10_000):  # MinHash.bulk reuses the permutations
        batch = [(x & np.uint64(0xFFFFFFFF)).tolist() for x in shingles[s:s + 10_000]]
        for r, m in enumerate(MinHash.bulk(batch, num_perm=num_perm, seed=seed, hashfunc=int)):
            sig[s + r] = m.hashvalues
    return sig


def _rensa(h: np.ndarray, woff: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """What synth.dedup.minhash does after hashing the shingles (the rows read back into numpy included)."""
    from rensa import RMinHash

    m = RMinHash.digest_matrix_from_flat_token_hashes(h, woff.astype(np.uint64), num_perm, seed)
    return np.array(m.to_rows(), dtype=np.uint32).reshape(len(woff) - 1, num_perm)


def compare_minhash(path: Path, n_rows: int, num_perm: int = 64) -> list[dict]:
    """Signatures of the first ``n_rows`` rows by each implementation, each in a fresh subprocess."""
    out = []
    for impl in ("rensa", "numpy-old", "datasketch"):
        cmd = [sys.executable, __file__, "--one-minhash", impl, "--file", str(path), "--n", str(n_rows),
               "--num-perm", str(num_perm)]
        r = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        if r.returncode:
            raise RuntimeError(r.stderr[-2000:])
        out.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(out[-1], flush=True)
    return out


def one_minhash(impl: str, path: Path, n_rows: int, num_perm: int) -> dict:
    import resource

    from synth.dedup import Encoder, near_duplicates, number_keys, window_hashes

    texts = []
    with open(path) as f:
        for line in f:
            texts.append(json.loads(line)["question"])
            if len(texts) >= n_rows:
                break
    enc = Encoder().encode(texts)
    del texts
    h, woff = window_hashes(enc, 3)  # the same shingle hashes for every implementation, outside the timing
    shingles = [h[woff[i]:woff[i + 1]] for i in range(len(woff) - 1)] if impl != "rensa" else None
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.process_time()
    if impl == "rensa":
        sig = _rensa(h, woff, num_perm, 0)
    else:
        sig = (_numpy_old if impl == "numpy-old" else _datasketch)(shingles, num_perm, 0)
    cpu = time.process_time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del shingles
    rep = near_duplicates(sig, number_keys(enc), np.ones(len(sig), bool), bands=16, threshold=0.8)
    return {"impl": impl, "rows": len(sig), "cpu_s": round(cpu, 1), "rows_per_cpu_s": round(len(sig) / cpu),
            "signature_mb": round(sig.nbytes / 2**20), "peak_rss_growth_mb": round((rss - rss0) / 1024),
            "near_dups_found": int((rep != np.arange(len(sig))).sum())}


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def write_md(res: dict) -> None:
    from tabulate import tabulate

    lines = ["# harness clean at scale", "", (f"Machine: {res['machine']}. Written by `benchmarks/clean_scale.py` "
             f"(commit {res.get('commit', '?')})."), ""]
    if res.get("minhash"):
        lines += ["## MinHash implementation (same rows, same LSH and verification)", "",
                  tabulate(res["minhash"], headers="keys", tablefmt="github"), ""]
    if res.get("scale"):
        cols = ["rows", "wall_s", "cpu_s", "peak_rss_gb", "rows_per_s", "removed_contaminated", "removed_exact_dup",
                "removed_near_dup", "planted", "planted_left", "load"]
        lines += ["## `harness clean` (2 workers)", "",
                  tabulate([[s.get(c) for c in cols] for s in res["scale"]], headers=cols, tablefmt="github"), ""]
    lines += [
        "Notes:",
        "- `planted`: test problems of every registered task with data, 40 per test set, each verbatim and with",
        "  spacing, punctuation and case edits; `planted_left` counts them in the output. Contaminated rows beyond",
        "  the planted ones are MATH train problems (numbers varied) that share a 30-gram with a MATH test problem.",
        "- MinHash `cpu_s` is the signature step alone on the same shingle hashes (rensa: including reading its",
        "  matrix back into numpy); `peak_rss_growth_mb` is for all rows at once (harness clean",
        "  works chunk by chunk). The earlier numpy code also kept every row's shingle set and a Python band table.",
        "- `cpu_s` of a clean run is the CPU time of the process and its workers (rusage); `peak_rss_gb` the",
        "  largest sum of their resident memory, sampled every 0.2 s.",
    ]
    (RESULTS / "clean_scale.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="100000", help="Comma-separated row counts for the scale runs.")
    ap.add_argument("--minhash-rows", type=int, default=0, help="Rows for the MinHash comparison (0: skip).")
    ap.add_argument("--append", action="store_true", help="Add to the committed results instead of replacing.")
    ap.add_argument("--render", action="store_true", help="Only rewrite the .md from the committed .json.")
    ap.add_argument("--tmp", default=None, help="Folder for the generated data (default: a temp folder).")
    ap.add_argument("--one-minhash", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--file", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--num-perm", type=int, default=64, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one_minhash:
        print(json.dumps(one_minhash(a.one_minhash, Path(a.file), a.n, a.num_perm)))
        return
    from harness.io import git_commit

    RESULTS.mkdir(parents=True, exist_ok=True)
    jpath = RESULTS / "clean_scale.json"
    if a.render:
        write_md(json.loads(jpath.read_text()))
        return
    res = json.loads(jpath.read_text()) if a.append and jpath.exists() else {"scale": [], "minhash": []}
    res["machine"] = f"{os.cpu_count()} cores, shared with other work (load recorded per run)"
    res["commit"] = git_commit()
    done_minhash = False
    with tempfile.TemporaryDirectory(dir=a.tmp) as tmp:
        for n in [int(x) for x in a.rows.split(",") if x]:
            data = Path(tmp) / f"rows{n}.jsonl"
            built = build(n, data)
            load0 = _load()
            r = {"rows": n, **built, **run_clean(data, Path(tmp) / f"clean{n}.jsonl")}
            r["load"] = f"{load0} at start; {_load()} at end"
            print(r, flush=True)
            res["scale"] = [s for s in res["scale"] if s["rows"] != n] + [r]
            if a.minhash_rows and n >= a.minhash_rows and not done_minhash:
                done_minhash = True
                res["minhash"] = [{**m, "load": _load()} for m in compare_minhash(data, a.minhash_rows)]
            data.unlink()
            jpath.write_text(json.dumps(res, indent=1) + "\n")
            write_md(res)


if __name__ == "__main__":
    main()
