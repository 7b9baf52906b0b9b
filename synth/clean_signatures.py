"""The options of ``harness clean`` (:class:`CleanConfig`) and its first stage, the signatures.

One floor below the driver (:mod:`synth.clean`) and the datatrove engine (:mod:`synth.clean_datatrove`),
which both run this stage, so neither imports the other for it. See :mod:`synth.clean` for the stages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from harness.errors import DataError
from harness.io import set_parent_death_signal
from harness.options import check
from synth.dedup import Encoder, TestIndex, _prefix, minhash, number_keys, whole_hashes


@dataclass(frozen=True)
class CleanConfig:
    """Options of ``harness clean`` (each ``help`` is the one place the option is documented)."""

    decontam_n: int = field(default=30, metadata={"min": 1, "help": "Word n-gram length of the test-set filter."})
    decontam: bool = field(default=True, metadata={"help": "Remove rows sharing an n-gram with a test set."})
    dedup: bool = field(default=True, metadata={"help": "Remove exact and near duplicates."})
    threshold: float = field(default=0.8, metadata={"gt": 0, "max": 1, "help": "Near duplicates: MinHash agreement (~ shingle Jaccard)."})
    numbers_must_match: bool = field(default=True, metadata={
        "help": "Near duplicates must have the same numbers (parametric variants are kept)."})
    shingle: int = field(default=3, metadata={"min": 1, "help": "Words per MinHash shingle."})
    num_perm: int = field(default=64, metadata={"min": 1, "help": "MinHash permutations (divisible by --bands)."})
    bands: int = field(default=16, metadata={"min": 1, "help": "LSH bands."})
    seed: int = field(default=0, metadata={"help": "MinHash seed."})
    workers: int = field(default=2, metadata={"min": 1, "help": "Worker processes for the signature stage."})
    engine: Literal["local", "datatrove"] = field(default="local", metadata={
        "help": "Signature stage engine: local process pool, or datatrove's executor (pip install datatrove)."})
    chunk_mb: float = field(default=8.0, metadata={"gt": 0, "help": "Input MB per signature task."})
    examples: int = field(default=3, metadata={"help": "Examples per reason in the report."})
    keep_work: bool = field(default=False, metadata={"help": "Keep <out>.work/ after success (cheap re-runs)."})

    def __post_init__(self) -> None:
        check(self, _divisible_bands)  # types and ranges from the fields, all problems at once


def _divisible_bands(cfg: CleanConfig) -> list[str]:
    """LSH splits the signature into equal bands."""
    if cfg.num_perm % cfg.bands:
        return [f"num_perm: expected a number divisible by bands ({cfg.bands}), found {cfg.num_perm}"]
    return []



@dataclass(frozen=True)
class Chunk:
    """Lines of ``path`` in the byte range ``[start, end)``."""

    k: int
    path: str
    start: int
    end: int


def plan_chunks(paths: list[str], chunk_bytes: int) -> list[Chunk]:
    """Cut files into byte ranges of about ``chunk_bytes`` that start and end at line boundaries."""
    out: list[Chunk] = []
    for p in paths:
        size = os.path.getsize(p)
        with open(p, "rb") as f:
            start = 0
            while start < size:
                f.seek(min(start + chunk_bytes, size))
                f.readline()
                end = min(f.tell(), size) if start + chunk_bytes < size else size
                out.append(Chunk(len(out), p, start, end))
                start = end
    return out


def _line_no(path: str, offset: int) -> int:
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def read_chunk(c: Chunk) -> bytes:
    with open(c.path, "rb") as f:
        f.seek(c.start)
        return f.read(c.end - c.start)


def chunk_lines(data: bytes):
    """``(line number within the chunk, raw line)`` for each non-blank line of a chunk's bytes."""
    for i, line in enumerate(data.split(b"\n")):
        if line.strip():
            yield i, line


def chunk_problems(c: Chunk) -> list[str]:
    """The problem text of every row of a chunk.

    Raises:
        DataError: a line that is not JSON, or a row of no known shape (with file and line number).
    """
    from harness.sftrows import sft_fields

    out = []
    for i, line in chunk_lines(read_chunk(c)):
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise DataError(f"{c.path}: line {_line_no(c.path, c.start) + i} is not JSON ({e}). Fix or remove "
                            "that line.") from None
        try:
            out.append(sft_fields(obj, "").problem)
        except DataError as e:
            raise DataError(f"{c.path}: line {_line_no(c.path, c.start) + i}{e}") from None
    return out


def signatures(texts: list[str], cfg: CleanConfig, index: TestIndex | None, enc_cache: Encoder | None = None) -> dict:
    """The per-row arrays of stage 1 for a batch of problem texts."""
    enc = (enc_cache or Encoder()).encode(texts)
    out = {"rows": np.array(len(texts)), "whole": whole_hashes(enc), "numkey": number_keys(enc)}
    if cfg.dedup:
        out["sig"] = minhash(enc, shingle=cfg.shingle, num_perm=cfg.num_perm, seed=cfg.seed)
    if index is not None:
        out["match"] = index.match(enc, _prefix(enc.tok))
    return out


def chunk_file(work: Path, k: int) -> Path:
    return work / f"chunk-{k:05d}.npz"


def process_chunk(c: Chunk, cfg: CleanConfig, index: TestIndex | None, work: Path) -> int:
    """Compute and save one chunk's arrays (atomically); returns its byte count."""
    arrays = signatures(chunk_problems(c), cfg, index)
    dest = chunk_file(work, c.k)
    tmp = dest.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, dest)
    return c.end - c.start


_WORKER: dict = {}


def _init_worker(cfg, index, work) -> None:
    import signal

    set_parent_death_signal(signal.SIGTERM)
    _WORKER.update(cfg=cfg, index=index, work=work)


def _work(c: Chunk) -> int:
    return process_chunk(c, _WORKER["cfg"], _WORKER["index"], _WORKER["work"])


def run_local(pending: list[Chunk], cfg: CleanConfig, index, work: Path, bar) -> None:
    """Stage 1 on this machine: ``cfg.workers`` processes (or this one)."""
    if cfg.workers == 1 or len(pending) == 1:
        for c in pending:
            bar.update(process_chunk(c, cfg, index, work))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(cfg.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(cfg, index, work)) as ex:
        futs = [ex.submit(_work, c) for c in pending]
        try:
            for f in as_completed(futs):
                bar.update(f.result())
        except BaseException:
            for f in futs:
                f.cancel()
            raise
