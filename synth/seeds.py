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

from harness.data import Problem, load_task
from harness.errors import ConfigError

log = logging.getLogger(__name__)

#: eval task -> the task whose train split holds its seeds (MATH-500 is a subset of MATH test).
TRAIN_TASK = {"math": "math", "math500": "math", "gsm8k": "gsm8k"}
SEED_SPLIT = "train"


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
    task = TRAIN_TASK.get(str(cell["task"]))
    if task is None:
        log.warning("no train split known for task %r; no seeds for this cell", cell["task"])
        return []
    if cache is None:
        cache = {}
    if task not in cache:
        cache[task] = load_task(task, split, data_dir_=data_dir)
    pool = [p for p in cache[task]
            if (task == "gsm8k" or (p.subject == cell.get("subject") and
                                    (cell.get("level") is None or p.level == cell.get("level"))))
            and p.answer not in ("", ())]
    assert all(p.id.startswith("train") or task == "gsm8k" for p in pool)
    if not pool:
        return []
    start = seed % len(pool)
    return [pool[i] for i in k_center(text_vectors([p.question for p in pool]), k, start)]
