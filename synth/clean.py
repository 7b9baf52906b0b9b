"""``harness clean``: decontamination and exact/near-duplicate removal for SFT files of any size.

Three stages, each over compact fixed-width arrays, never over every row's text:

1. **Signatures** (parallel, resumable). The inputs are cut into byte ranges of about ``chunk_mb`` at line
   boundaries. For each chunk a worker writes ``chunk-NNNNN.npz`` into the work folder ``<out>.work/``:
   per row the whole-text hash (exact duplicates), the hash of its numbers, a ``num_perm`` x uint32 MinHash
   signature and, per indexed n, the first test problem sharing an n-gram with it. A killed run keeps its
   finished chunks; the same command continues from there (a changed config or input starts over).
   Engines: ``local`` (a process pool) or ``datatrove`` (its executors; ``synth/clean_datatrove.py``).
2. **Decide** (one process): contaminated rows first (the report names the test set and problem each
   matched), then exact duplicates, then near duplicates (LSH clusters, :func:`synth.dedup.near_duplicates`);
   the first row of each group is kept.
3. **Write**: kept lines are copied byte for byte to ``out`` (atomically); each removed row goes to
   ``<out>.removed.jsonl`` with its reason and what it matched; ``<out>.report.json`` holds the counts.

The problem text of a row is found by :func:`harness.sftrows.sft_fields` (the ``harness train --data`` shapes).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from harness.errors import ConfigError, DataError
from harness.io import (
    atomic_write_json,
    config_hash,
    git_commit,
    now_iso,
)
from harness.rundir import RunDir, hashed
from synth.clean_signatures import (
    Chunk,
    CleanConfig,
    chunk_file,
    chunk_lines,
    plan_chunks,
    read_chunk,
    run_local,
)
from synth.dedup import NO_MATCH, REPORT_NS, TestIndex, near_duplicates, registered_test_index

log = logging.getLogger(__name__)

WORK_VERSION = 1
REASONS = ("contaminated", "exact_dup", "near_dup")


def work_key(cfg: CleanConfig, index: TestIndex | None, paths: list[str]) -> dict:
    """What the saved chunks depend on: a different key discards them."""
    idx = None
    if index is not None:
        import hashlib

        h = hashlib.sha256()
        for n in index.ns:
            h.update(index.hashes[n].tobytes())
            h.update(index.problem[n].tobytes())
        idx = {"ns": list(index.ns), "sha256": h.hexdigest()[:16]}
    sig = {k: getattr(cfg, k) for k in ("dedup", "shingle", "num_perm", "seed", "chunk_mb")}
    files = [{"path": str(Path(p).resolve()), "size": os.path.getsize(p), "mtime_ns": os.stat(p).st_mtime_ns}
             for p in paths]
    return {"work_version": WORK_VERSION, **sig, "index": idx, "inputs": files}


def _load_all(work: Path, chunks: list[Chunk], cfg: CleanConfig, index) -> dict:
    """Concatenate the chunk arrays into preallocated arrays (no second copy of the signatures)."""
    rows = [int(np.load(chunk_file(work, c.k))["rows"]) for c in chunks]
    n = sum(rows)
    a = {"whole": np.empty(n, np.uint64), "numkey": np.empty(n, np.uint64)}
    if cfg.dedup:
        a["sig"] = np.empty((n, cfg.num_perm), np.uint32)
    if index is not None:
        a["match"] = np.empty((n, len(index.ns)), np.int32)
    s = 0
    for c, r in zip(chunks, rows):
        z = np.load(chunk_file(work, c.k))
        for k, arr in a.items():
            arr[s:s + r] = z[k]
        s += r
    a["chunk_rows"] = np.array(rows)
    return a


def decide(a: dict, cfg: CleanConfig, index: TestIndex | None) -> tuple[np.ndarray, np.ndarray]:
    """Per row: reason (0 kept, 1 contaminated, 2 exact dup, 3 near dup) and partner (test problem or row).

    Contamination first (whatever else), then exact duplicates of an earlier row, then near duplicates.
    """
    n = len(a["whole"])
    reason = np.zeros(n, np.int8)
    partner = np.full(n, -1, np.int64)
    if index is not None and cfg.decontam:
        hit = a["match"][:, index.ns.index(cfg.decontam_n)]
        reason[hit != NO_MATCH] = 1
        partner[hit != NO_MATCH] = hit[hit != NO_MATCH]
    if not cfg.dedup:
        return reason, partner
    alive = np.flatnonzero(reason == 0)
    _, first, inv = np.unique(a["whole"][alive], return_index=True, return_inverse=True)
    dup = alive[np.arange(len(alive)) != first[inv]]
    reason[dup] = 2
    partner[dup] = alive[first[inv]][np.arange(len(alive)) != first[inv]]
    rep = near_duplicates(a["sig"], a["numkey"] if cfg.numbers_must_match else None, reason == 0,
                          bands=cfg.bands, threshold=cfg.threshold)
    near = np.flatnonzero((reason == 0) & (rep != np.arange(n)))
    reason[near] = 3
    partner[near] = rep[near]
    return reason, partner


def plan_test_sets(plan: dict) -> tuple[list, list[dict]]:
    """Test problems of the plan's tasks that are not registered (custom JSONL tasks of the source run).

    Their questions are recovered from the source run's recorded prompts (the template, rendered around a
    marker, gives the text before and after the question). Returns ``(extra, missing)`` for
    :func:`synth.dedup.registered_test_index`.
    """
    from harness.data import task_names
    from harness.errors import HarnessError
    from harness.prompts import get_prompt
    from harness.records import load_run

    custom = sorted({c["task"] for c in plan.get("cells", [])} - set(task_names()))
    if not custom:
        return [], []
    try:
        if not plan.get("source_run"):
            raise HarnessError("the plan names no source_run")
        run = load_run(plan["source_run"])
    except HarnessError as e:
        log.warning("decontamination: custom task(s) %s of the plan not indexed (%s)", ", ".join(custom), e)
        return [], [{"name": t, "split": "test", "why": f"plan's source run unreadable ({e})"} for t in custom]
    ident = run.manifest.get("prompt") or {}
    extra, missing = [], []
    for t in custom:
        name = (ident.get(t) or {}).get("name") if "name" not in ident else ident["name"]
        pre, post = "", ""
        try:
            marker = "\x00QUESTION\x00"
            pre, post = get_prompt(str(name)).render(marker, run.manifest.get("n_shot")).text.split(marker)
        except (HarnessError, ValueError, TypeError):
            pass
        items: dict[str, str] = {}
        for s in run.samples:
            if s.get("task") == t and isinstance(s.get("prompt"), str):
                p = s["prompt"]
                if p.startswith(pre) and p.endswith(post):
                    p = p[len(pre):len(p) - len(post)]
                items.setdefault(str(s.get("id")), p)
        if items:
            extra.append((t, sorted(items.items())))
        else:
            log.warning("decontamination: custom task %s of the plan not indexed (no samples in %s)", t, run.path)
            missing.append({"name": t, "split": "test", "why": f"no samples of {t} in {run.path}"})
    return extra, missing


def build_index(cfg: CleanConfig, data_dir=None, against=(), plan: dict | None = None) -> TestIndex | None:
    """The decontamination index: every registered task, ``against`` files, and a plan's custom tasks."""
    if not cfg.decontam:
        return None
    extra, missing = plan_test_sets(plan) if plan else ([], [])
    idx = registered_test_index(data_dir, sorted({*REPORT_NS, cfg.decontam_n}), extra=extra, against=against)
    idx.missing += missing
    return idx


def _where(chunks: list[Chunk], loc_chunk: np.ndarray, loc_line: np.ndarray, i: int) -> str:
    return f"{chunks[loc_chunk[i]].path}:{loc_line[i]}"


def write_outputs(chunks: list[Chunk], reason: np.ndarray, partner: np.ndarray, out: Path, index, cfg: CleanConfig,
                  bar) -> tuple[list[dict], Counter]:
    """Stage 3: kept lines to ``out``, removed rows to ``<out>.removed.jsonl`` (both atomic); examples."""
    from harness.sftrows import sft_fields

    n = len(reason)
    loc_chunk = np.zeros(n, np.int32)
    loc_line = np.zeros(n, np.int64)
    ex_rows: list[int] = []
    for r in (1, 2, 3):
        ex_rows += np.flatnonzero(reason == r)[: cfg.examples].tolist()
    want = set(ex_rows) | {int(partner[i]) for i in ex_rows if reason[i] > 1}
    texts: dict[int, str] = {}
    by_set: Counter = Counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    removed_path = Path(str(out) + ".removed.jsonl")
    tmp_out, tmp_rm = out.with_name(out.name + ".tmp"), removed_path.with_name(removed_path.name + ".tmp")
    i = 0
    line_base: dict[str, int] = {}
    with open(tmp_out, "wb") as fo, open(tmp_rm, "w") as fr:
        for c in chunks:
            base = line_base.get(c.path, 1)
            data = read_chunk(c)
            line_base[c.path] = base + data.count(b"\n")  # the file's next chunk starts there
            for li, line in chunk_lines(data):
                loc_chunk[i], loc_line[i] = c.k, base + li
                if i in want or reason[i]:
                    q = sft_fields(json.loads(line), "").problem
                    if i in want:
                        texts[i] = q
                if reason[i] == 0:
                    fo.write(line + b"\n")
                else:
                    rec = {"where": _where(chunks, loc_chunk, loc_line, i), "reason": REASONS[reason[i] - 1]}
                    if reason[i] == 1:
                        src, pid = index.labels[partner[i]]
                        by_set[src] += 1
                        rec["test_set"], rec["test_id"] = src, pid
                    else:
                        rec["duplicate_of"] = _where(chunks, loc_chunk, loc_line, int(partner[i]))
                    rec["problem"] = q[:300]
                    fr.write(json.dumps(rec) + "\n")
                i += 1
            bar.update(c.end - c.start)
        fo.flush()
        os.fsync(fo.fileno())
        fr.flush()
        os.fsync(fr.fileno())
    os.replace(tmp_out, out)
    os.replace(tmp_rm, removed_path)
    examples = []
    for j in ex_rows:
        e = {"reason": REASONS[reason[j] - 1], "where": _where(chunks, loc_chunk, loc_line, j),
             "problem": texts[j][:300]}
        if reason[j] == 1:
            src, pid = index.labels[partner[j]]
            e.update(test_set=src, test_id=pid, test_problem=index.texts[partner[j]][:300])
        else:
            p = int(partner[j])
            e.update(duplicate_of=_where(chunks, loc_chunk, loc_line, p), kept_problem=texts[p][:300])
        examples.append(e)
    return examples, by_set


def _stages(inputs, out: Path, rundir: RunDir, cfg: CleanConfig, index, progress: bool):
    """The three stages, under the work folder's lock. Saved chunks are kept only for the same work key
    (the run-directory policy with ``on_change="restart"``: other inputs or options start over)."""
    from harness.progress import bar as progress_bar

    work = rundir.path
    has_work = any(work.glob("chunk-*.npz"))
    rundir.resume(hashed(work_key(cfg, index, inputs)), has_work=has_work, write=False, on_change="restart")
    if rundir.action == "restart":
        shutil.rmtree(work)
        work.mkdir()
    if rundir.action != "resume":
        rundir.write_manifest(hashed(work_key(cfg, index, inputs)))
    chunks = plan_chunks(list(inputs), max(1, int(cfg.chunk_mb * 2**20)))
    pending = [c for c in chunks if not chunk_file(work, c.k).is_file()]
    reused = len(chunks) - len(pending)
    log.info("%s: %d of %d chunks done earlier, %d to run", work, reused, len(chunks), len(pending))
    total = sum(c.end - c.start for c in chunks)
    bar = progress_bar(total=total, initial=total - sum(c.end - c.start for c in pending), unit="B",
                       unit_scale=True, desc="clean: signatures", disable=not progress, dynamic_ncols=True)
    if cfg.engine == "datatrove":
        try:
            from synth.clean_datatrove import run_datatrove
        except ImportError as e:
            raise ConfigError(f"--engine datatrove needs datatrove ({e}); pip install 'mathharness[clean]', "
                              "or use --engine local.") from None
        run_datatrove(pending, cfg, index, work)
        bar.update(sum(c.end - c.start for c in pending))
    else:
        run_local(pending, cfg, index, work, bar)
    bar.close()
    a = _load_all(work, chunks, cfg, index)
    reason, partner = decide(a, cfg, index)
    by_n = ({n: int((a["match"][:, j] != NO_MATCH).sum()) for j, n in enumerate(index.ns)}
            if index is not None else {})
    del a
    bar = progress_bar(total=total, unit="B", unit_scale=True, desc="clean: write", disable=not progress,
                       dynamic_ncols=True)
    examples, by_set = write_outputs(chunks, reason, partner, out, index, cfg, bar)
    bar.close()
    if not cfg.keep_work:
        shutil.rmtree(work)
    return reason, chunks, reused, by_n, examples, by_set


def clean(inputs: list[str], out: str | os.PathLike, cfg: CleanConfig = CleanConfig(), *, data_dir=None,
          against: tuple[str, ...] = (), index: TestIndex | None = None, progress: bool = False) -> dict:
    """Clean SFT files into ``out``; write ``<out>.removed.jsonl`` and ``<out>.report.json``.

    Args:
        inputs: JSONL files (rows in any shape of :func:`harness.sftrows.sft_fields`), cleaned as one set.
        out: the cleaned JSONL (kept lines, byte for byte, in input order).
        cfg: options.
        data_dir: benchmark data folder for the registered test sets.
        against: more held-out JSONL files to decontaminate against.
        index: a prebuilt test index (default: :func:`build_index`).
        progress: show tqdm bars.

    Returns:
        The report dict.

    Raises:
        ConfigError: bad options, or another run is using the work folder.
        DataError: a missing input, a malformed line (file:line), an ``against`` file missing.
    """
    missing_in = [p for p in inputs if not Path(p).is_file()]
    if missing_in or not inputs:
        raise DataError(f"Expected JSONL input files; not found: {', '.join(missing_in) or '(none given)'}.")
    out = Path(out)
    if any(Path(p).resolve() == out.resolve() for p in inputs):
        raise ConfigError(f"--out {out} is also an input; write the cleaned set to a new file.")
    if index is None:
        index = build_index(cfg, data_dir, against)
    work = Path(str(out) + ".work")
    # one run per work folder; the lock sits beside it, as the folder is removed when the run succeeds
    with RunDir(work, what="`harness clean`", fix="use another --out", manifest="key.json",
                lock=Path(f"{work}.lock")) as rundir:
        reason, chunks, reused, by_n, examples, by_set = _stages(inputs, out, rundir, cfg, index, progress)
    counts = {"rows_in": len(reason), "kept": int((reason == 0).sum()),
              **{f"removed_{r}": int((reason == i + 1).sum()) for i, r in enumerate(REASONS)}}
    report = {
        "inputs": list(map(str, inputs)), "out": str(out), "removed_path": str(out) + ".removed.jsonl",
        "config": dataclasses.asdict(cfg), "counts": counts, "chunks": {"total": len(chunks), "reused": reused},
        "decontam": {"n": cfg.decontam_n, "skipped": index is None, "removed_by_n": by_n,
                     "by_test_set": dict(sorted(by_set.items())),
                     "test_sets": index.sources if index is not None else [],
                     "missing": index.missing if index is not None else []},
        "examples": examples, "commit": git_commit(), "date": now_iso(),
        "report_path": str(out) + ".report.json", "config_hash": config_hash(dataclasses.asdict(cfg)),
    }
    atomic_write_json(report["report_path"], report)
    return report


def report_table(report: dict) -> str:
    """Counts by reason, removals by test set, test sets not found, and examples, as tables."""
    from tabulate import tabulate

    c = report["counts"]
    t = tabulate([[k, v] for k, v in c.items()], headers=["rows", "count"])
    d = report["decontam"]
    if not d["skipped"]:
        rows = [[s["name"], s["split"], s["problems"], d["by_test_set"].get(s["name"], 0)] for s in d["test_sets"]]
        rows += [[m["name"], m["split"], "NOT FOUND", m["why"][:80]] for m in d["missing"]]
        t += "\n\n" + tabulate(rows, headers=["test set", "split", "problems", f"rows removed (n={d['n']})"])
        t += "\n\n" + tabulate([[n, v, "used" if int(n) == d["n"] else ""] for n, v in d["removed_by_n"].items()],
                               headers=["decontam n", "would match", ""])
    if report["examples"]:
        ex = [[e["reason"], e["where"], e["problem"][:60],
               e.get("test_set", "") + (":" + e["test_id"] if "test_id" in e else e.get("duplicate_of", ""))]
              for e in report["examples"]]
        t += "\n\n" + tabulate(ex, headers=["reason", "row", "problem", "matched"])
    return t
