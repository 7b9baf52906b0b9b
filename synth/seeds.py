"""Seed problems for teacher augmentation: TRAIN split only, in the weak cells, chosen for diversity.

Diversity is a k-center greedy (core-set) pick over a cheap text representation: hashed word and
character-trigram counts (numpy), L2-normalized; each next seed is the problem farthest from those
already picked (as Skywork-Math's core-set selection).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re

import numpy as np

from harness.data import REGISTRY, Problem, SeedSource, load_task
from harness.errors import ConfigError

log = logging.getLogger(__name__)

SEED_SPLIT = "train"


def seed_source(task: str) -> SeedSource | None:
    """Where the weak cells of ``task`` find training problems (:attr:`harness.data.Task.seeds`); None for a
    task with no source, or one not registered in this process (a custom task of an earlier run)."""
    return REGISTRY[task].seeds if task in REGISTRY else None


def no_source_reason(task: str) -> str:
    """Why a cell of ``task`` gets no training problems (for reports)."""
    sources = [t for t in REGISTRY.names() if REGISTRY[t].seeds is not None]
    return (f"task {task!r} has no train split and no stand-in source of training problems "
            f"(sources: {', '.join(sources)}); bring your own data and clean it with "
            "`harness clean`")


def _bucket(s: str, dim: int) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little") % dim


def text_vectors(texts: list[str], dim: int = 2048) -> np.ndarray:
    """Hashed bag of words + character trigrams, L2-normalized rows."""
    m = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        t = t[:5000].lower()
        for w in re.findall(r"\w+|\\[a-z]+", t):
            m[i, _bucket("w:" + w, dim)] += 1.0
        for j in range(len(t) - 2):
            m[i, _bucket("c:" + t[j : j + 3], dim)] += 0.2
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-9)


def k_center(vectors: np.ndarray, k: int, start: int = 0) -> list[int]:
    """Greedy k-center: indices of ``k`` rows, each next one farthest (Euclidean) from those chosen."""
    n = len(vectors)
    if k >= n:
        return list(range(n))
    chosen = [start]
    dist = np.linalg.norm(vectors - vectors[start], axis=1)
    while len(chosen) < k:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(vectors - vectors[nxt], axis=1))
    return chosen


def select_seeds(cell: dict, k: int, *, split: str = SEED_SPLIT, data_dir: str | os.PathLike | None = None,
                 seed: int = 0, cache: dict[str, list[Problem]] | None = None) -> list[Problem]:
    """Up to ``k`` diverse train problems of a plan cell (same subject and level).

    Args:
        cell: a plan cell (``task``, ``subject``, ``level``).
        k: how many seeds.
        split: must be ``"train"``.
        data_dir: benchmark data folder.
        seed: picks the k-center start.
        cache: a per-run dict (train task -> problems); pass the same one for every cell so each task's
            train split is loaded once per run.

    Returns:
        The chosen problems (fewer when the cell has fewer).

    Raises:
        ConfigError: a split other than train (seeds never come from a test split).
        DataError: the train data cannot be loaded.
    """
    if split != SEED_SPLIT:
        raise ConfigError(f"Seeds must come from the train split, found split={split!r}: never seed from test data.")
    src = seed_source(str(cell["task"]))
    if src is None:
        log.warning("%s; no seeds for this cell", no_source_reason(str(cell["task"])))
        return []
    if cache is None:
        cache = {}
    if src.task not in cache:
        cache[src.task] = load_task(src.task, split, data_dir_=data_dir)

    def fits(p: Problem) -> bool:
        if src.same_subject:
            same_level = cell.get("level") is None or p.level == cell.get("level")
            return p.subject == cell.get("subject") and same_level
        return src.min_level is None or (p.level or 0) >= src.min_level

    pool = [p for p in cache[src.task] if fits(p) and p.answer not in ("", ())]
    assert all(p.id.startswith("train") or src.task == "gsm8k" for p in pool)
    if not pool:
        return []
    start = seed % len(pool)
    return [pool[i] for i in k_center(text_vectors([p.question for p in pool]), k, start)]
