"""Hygiene for synthetic data: exact and near-duplicate removal, and test-set decontamination.

- Normalization: lowercase, LaTeX commands kept as words, punctuation removed, whitespace collapsed
  (:func:`words`), so whitespace/punctuation edits do not hide a copy.
- Exact duplicates: identical normalized text.
- Near duplicates: word-shingle MinHash (numpy, stable blake2b hashes) with LSH banding to find
  candidates, then exact Jaccard on the shingle sets >= ``threshold``. By default two problems whose
  numbers differ are never near duplicates (parametric problems differ exactly there).
- Decontamination: a synthetic problem is removed when it shares any word n-gram (default n = 30, as
  Skywork-Math) with a problem of a registered test set (GSM8K test, MATH test, MATH-500).
  :func:`decontam_report` says what each n in (10, 13, 20, 30) would remove.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

TEST_SETS = (("gsm8k", "test"), ("math", "test"), ("math500", "test"))
REPORT_NS = (10, 13, 20, 30)
_TOKEN = re.compile(r"\\[a-zA-Z]+|[a-zA-Z]+|\d+(?:\.\d+)?")
_NUM = re.compile(r"\d+(?:\.\d+)?")
MAX_CHARS = 20_000  # bound the work on any one (possibly model-written) text


def words(text: str) -> list[str]:
    """Normalized word tokens: lowercase words, numbers and LaTeX commands; punctuation dropped."""
    return _TOKEN.findall(text[:MAX_CHARS].lower())


def _h64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


def ngrams(text: str, n: int) -> set[int]:
    """Stable 64-bit hashes of the word n-grams of ``text``.

    A text shorter than n words yields one gram, its whole normalized text, so a verbatim copy of a
    short test problem is still caught.
    """
    w = words(text)
    if not w:
        return set()
    if len(w) < n:
        return {_h64(" ".join(w))}
    return {_h64(" ".join(w[i : i + n])) for i in range(len(w) - n + 1)}


@dataclass(frozen=True)
class DedupResult:
    keep: list[int]  # indices kept, in input order
    exact: int  # removed as exact duplicates
    near: int  # removed as near duplicates


def dedup(texts: Sequence[str], *, threshold: float = 0.8, shingle: int = 3, num_perm: int = 64, bands: int = 16,
          numbers_must_match: bool = True, seed: int = 0) -> DedupResult:
    """Remove exact and near duplicates; the first occurrence is kept.

    Args:
        texts: problem texts.
        threshold: Jaccard similarity of word-shingle sets at or above which two texts are near duplicates.
        shingle: words per shingle.
        num_perm: MinHash permutations (must be divisible by ``bands``).
        bands: LSH bands (candidates share one whole band).
        numbers_must_match: near duplicates must also have the same numbers.
        seed: seed of the MinHash permutations.

    Returns:
        A :class:`DedupResult`.
    """
    seen: dict[str, int] = {}
    first: list[int] = []
    exact = 0
    for i, t in enumerate(texts):
        key = " ".join(words(t))
        if key in seen:
            exact += 1
            continue
        seen[key] = i
        first.append(i)
    sh = []
    for i in first:
        w = words(texts[i])
        grams = {" ".join(w[j : j + shingle]) for j in range(max(1, len(w) - shingle + 1))}
        sh.append({_h64(g) for g in grams})
    if not first:
        return DedupResult([], exact, 0)
    rng = np.random.default_rng(seed)
    prime = np.uint64((1 << 61) - 1)
    a = rng.integers(1, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
    sig = np.empty((len(first), num_perm), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r, s in enumerate(sh):
            h = np.fromiter(s, dtype=np.uint64, count=len(s)) % prime if s else np.zeros(1, dtype=np.uint64)
            sig[r] = ((h[:, None] * a[None, :] + b[None, :]) % prime).min(axis=0)
    rows = num_perm // bands
    buckets: dict[tuple, list[int]] = {}
    for r in range(len(first)):
        for band in range(bands):
            buckets.setdefault((band, sig[r, band * rows : (band + 1) * rows].tobytes()), []).append(r)
    nums = [sorted(_NUM.findall(texts[i][:MAX_CHARS])) for i in first]
    dropped: set[int] = set()
    for members in buckets.values():
        for x_i, x in enumerate(members):
            if x in dropped:
                continue
            for y in members[x_i + 1 :]:
                if y in dropped or (numbers_must_match and nums[x] != nums[y]):
                    continue
                inter = len(sh[x] & sh[y])
                if inter / max(1, len(sh[x] | sh[y])) >= threshold:
                    dropped.add(y)
    keep = [first[r] for r in range(len(first)) if r not in dropped]
    return DedupResult(keep, exact, len(dropped))


@dataclass
class TestIndex:
    """Word n-gram hashes of test-set problems, per n."""

    grams: dict[int, set[int]]
    sources: list[str]
    n_problems: int

    def contaminated(self, text: str, n: int) -> bool:
        g = ngrams(text, n)
        return bool(g) and not g.isdisjoint(self.grams[n])


def build_test_index(texts: Iterable[str], ns: Iterable[int] = REPORT_NS, sources: Sequence[str] = ()) -> TestIndex:
    """Index test problems for :func:`decontaminate`."""
    ns = sorted(set(ns))
    grams: dict[int, set[int]] = {n: set() for n in ns}
    count = 0
    for t in texts:
        count += 1
        for n in ns:
            grams[n] |= ngrams(t, n)
    return TestIndex(grams, list(sources), count)


def registered_test_index(data_dir=None, ns: Iterable[int] = REPORT_NS) -> TestIndex:
    """An index over every registered test set (GSM8K test, MATH test, MATH-500).

    Raises:
        DataError: a test set cannot be loaded (pass --data-dir or set HARNESS_DATA_DIR).
    """
    from harness.data import load_task

    texts: list[str] = []
    srcs = []
    for task, split in TEST_SETS:
        probs = load_task(task, split, data_dir_=data_dir)
        texts += [p.question for p in probs]
        srcs.append(f"{task}/{split} ({len(probs)})")
    return build_test_index(texts, ns, srcs)


def decontaminate(texts: Sequence[str], index: TestIndex, n: int = 30) -> tuple[list[int], dict]:
    """Indices of texts sharing no word n-gram with the test sets, plus what each indexed n would remove.

    Returns:
        ``(keep, report)``; ``report`` = ``{"n": n, "removed": count, "removed_by_n": {n_i: count}}``.
    """
    if n not in index.grams:
        raise ValueError(f"n={n} was not indexed; build the index with ns including {n}")
    by_n = {m: sum(index.contaminated(t, m) for t in texts) for m in sorted(index.grams)}
    keep = [i for i, t in enumerate(texts) if not index.contaminated(t, n)]
    return keep, {"n": n, "removed": len(texts) - len(keep), "removed_by_n": by_n, "test_sets": index.sources}
