"""Hygiene kernels: normalized tokens, hashed word n-grams, MinHash signatures, LSH clusters.

Everything works on a *batch* of texts at once as flat numpy arrays (one token-hash array plus row
offsets), so memory per row is a few fixed-width integers, never the row's text or shingle set:

- Normalization: lowercase, LaTeX commands kept as words, punctuation removed, whitespace collapsed
  (:func:`words`), so whitespace/punctuation/case edits do not hide a copy.
- Window hashes: a polynomial hash mod 2^64 over token hashes, computed for every window of every row
  from prefix sums in a few vectorized passes (:func:`window_hashes`). A row shorter than the window
  yields one hash of its whole text, so a verbatim copy of a short test problem is still caught.
- Exact duplicates: equal hash of the whole normalized text.
- Near duplicates: MinHash over word 3-shingles by ``rensa`` (chosen by measurement against the earlier
  numpy code and ``datasketch``: ``benchmarks/clean_scale.py``), LSH banding (:func:`near_duplicates`)
  to find candidates, each candidate pair verified by the signatures' agreement >= ``threshold``.
  By default two problems whose numbers differ are never near duplicates (parametric problems differ
  exactly there): the multiset of numbers is part of every band key.
- Decontamination: a row is contaminated when it shares a word n-gram (default n = 30, as Skywork-Math)
  with a problem of a test set (:class:`TestIndex`: sorted hash arrays, looked up with ``searchsorted``),
  or holds the whole of a shorter test problem (at least ``CONTAIN_MIN`` = 8 words; shorter ones match
  only the whole row), so a short problem wrapped in an instruction is still caught.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

REPORT_NS = (10, 13, 20, 30)
_TOKEN = re.compile(r"\\[a-zA-Z]+|[a-zA-Z]+|\d+(?:\.\d+)?")
MAX_CHARS = 20_000  # bound the work on any one (possibly model-written) text
_P = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible mod 2^64
_PINV = np.uint64(pow(int(_P), -1, 1 << 64))
_U64 = np.uint64
NO_MATCH = np.iinfo(np.int32).max
CONTAIN_MIN = 8  # a test problem of 8..n-1 words is found inside a longer row; a shorter one only as the whole row


def words(text: str) -> list[str]:
    """Normalized word tokens: lowercase words, numbers and LaTeX commands; punctuation dropped."""
    return _TOKEN.findall(text[:MAX_CHARS].lower())


def _h64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads a (linear) polynomial hash over all 64 bits."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> _U64(30))
        x = x * _U64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> _U64(27))
        x = x * _U64(0x94D049BB133111EB)
        return x ^ (x >> _U64(31))


@dataclass
class Encoded:
    """A batch of texts as token hashes: row ``r`` is ``tok[off[r]:off[r+1]]``; ``num`` marks number tokens."""

    tok: np.ndarray  # uint64
    off: np.ndarray  # int64, len rows + 1
    num: np.ndarray  # bool, a number token

    @property
    def lens(self) -> np.ndarray:
        return np.diff(self.off)


class Encoder:
    """Turns texts into :class:`Encoded` batches; token hashes are stable (blake2b) and cached."""

    def __init__(self, max_cache: int = 2_000_000):
        self._cache: dict[str, int] = {}
        self._max = max_cache

    def encode(self, texts: Sequence[str]) -> Encoded:
        toks: list[str] = []
        lens = np.empty(len(texts), dtype=np.int64)
        for i, t in enumerate(texts):
            w = words(t)
            lens[i] = len(w)
            toks += w
        cache = self._cache
        if len(cache) > self._max:
            cache.clear()
        for word in set(toks).difference(cache):
            cache[word] = _h64(word)
        tok = np.fromiter((cache[w] for w in toks), dtype=np.uint64, count=len(toks))
        num = np.fromiter((w[0].isdigit() for w in toks), dtype=bool, count=len(toks))
        off = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lens, out=off[1:])
        return Encoded(tok, off, num)


def _prefix(tok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prefix hashes ``pre[k] = sum_{m<k} tok[m] P^(k-1-m)`` and powers ``P^k`` (both mod 2^64)."""
    t = len(tok)
    with np.errstate(over="ignore"):
        pw = np.cumprod(np.full(t + 1, _P, dtype=np.uint64))
        pw = np.concatenate(([_U64(1)], pw[:-1]))
        ipw = np.cumprod(np.full(max(t, 1), _PINV, dtype=np.uint64))
        ipw = np.concatenate(([_U64(1)], ipw[:-1]))[:t]
        pre = np.zeros(t + 1, dtype=np.uint64)
        pre[1:] = pw[:t] * np.cumsum(tok * ipw, dtype=np.uint64)
    return pre, pw


def _windows(enc: Encoded, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every ``n``-token window (a shorter non-empty row: all of it): ``(row, start, length, offsets)``."""
    lens = enc.lens
    counts = np.where(lens >= n, lens - n + 1, (lens > 0).astype(np.int64))
    woff = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(counts, out=woff[1:])
    row = np.repeat(np.arange(len(lens)), counts)
    start = enc.off[:-1][row] + (np.arange(woff[-1]) - woff[:-1][row])
    return row, start, np.minimum(lens[row], n), woff


def _span_hash(pre, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    prefix, pw = pre
    with np.errstate(over="ignore"):
        return _mix(prefix[start + length] - prefix[start] * pw[length])


def window_hashes(enc: Encoded, n: int, pre=None) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every ``n``-token window of every row (a shorter non-empty row: one hash of all of it).

    Args:
        enc: the batch.
        n: window length in tokens.
        pre: ``_prefix(enc.tok)`` when already computed.

    Returns:
        ``(hashes uint64, offsets int64)``: row ``r``'s windows are ``hashes[offsets[r]:offsets[r+1]]``.
    """
    _, start, length, woff = _windows(enc, n)
    return _span_hash(pre if pre is not None else _prefix(enc.tok), start, length), woff


def whole_hashes(enc: Encoded) -> np.ndarray:
    """One hash per row of its whole normalized text (the exact-duplicate key; 0 for an empty row)."""
    h = _span_hash(_prefix(enc.tok), enc.off[:-1], enc.lens)
    return np.where(enc.lens > 0, h, _U64(0))


def number_keys(enc: Encoded) -> np.ndarray:
    """One hash per row of the multiset of its numbers (order-free: a sum of mixed token hashes)."""
    vals = np.where(enc.num, _mix(enc.tok), _U64(0))
    with np.errstate(over="ignore"):
        c = np.concatenate(([_U64(0)], np.cumsum(vals, dtype=np.uint64)))
        return c[enc.off[1:]] - c[enc.off[:-1]]


def _row_min(values: np.ndarray, woff: np.ndarray, empty) -> np.ndarray:
    """Per-row minimum of ``values`` split by ``woff``; ``empty`` for a row with no values."""
    counts = np.diff(woff)
    out = np.full(len(counts), empty, dtype=values.dtype)
    has = counts > 0
    if values.size:
        out[has] = np.minimum.reduceat(values, woff[:-1][has])
    return out


def minhash(enc: Encoded, *, shingle: int = 3, num_perm: int = 64, seed: int = 0) -> np.ndarray:
    """MinHash signatures (rows x ``num_perm``, uint32) of each row's word ``shingle``-grams, by ``rensa``."""
    from rensa import RMinHash

    h, woff = window_hashes(enc, shingle)
    if not len(enc.lens):
        return np.zeros((0, num_perm), dtype=np.uint32)
    m = RMinHash.digest_matrix_from_flat_token_hashes(h, woff.astype(np.uint64), num_perm, seed)
    return np.array(m.to_rows(), dtype=np.uint32).reshape(len(enc.lens), num_perm)


def near_duplicates(sig: np.ndarray, numkey: np.ndarray | None, alive: np.ndarray, *, bands: int = 16,
                    threshold: float = 0.8) -> np.ndarray:
    """Cluster near-duplicate rows; each row's cluster representative (its smallest row index).

    Candidates share one whole band of the signature (and, with ``numkey``, the same numbers); a candidate
    pair is joined when the signatures agree on at least ``threshold`` of their positions (the MinHash
    estimate of the shingle Jaccard). Clusters are the connected components of joined pairs, so the
    result does not depend on how rows were split into batches.

    Args:
        sig: rows x num_perm signatures.
        numkey: per-row number-multiset hash, or None to ignore numbers.
        alive: rows taking part (the others are their own representative).
        bands: LSH bands (``num_perm`` must be divisible by it).
        threshold: minimum signature agreement of a joined pair.

    Returns:
        int64 array: ``rep[i] == i`` for a kept row, else the index of the earlier row it duplicates.

    Raises:
        ValueError: ``num_perm`` not divisible by ``bands``.
    """
    n, p = sig.shape
    if p % bands:
        raise ValueError(f"num_perm {p} must be divisible by bands {bands}")
    r = p // bands
    idx = np.flatnonzero(alive)
    pa, pb = [], []
    for b in range(bands):
        cols = sig[idx, b * r:(b + 1) * r].astype(np.uint64)
        with np.errstate(over="ignore"):
            key = np.full(len(idx), _U64(b + 1), dtype=np.uint64)
            for j in range(r):
                key = _mix(key * _P + cols[:, j])
            if numkey is not None:
                key = _mix(key ^ numkey[idx])
        order = np.argsort(key, kind="stable")
        sk = key[order]
        same = np.flatnonzero(sk[1:] == sk[:-1])
        pa.append(idx[order[same]])
        pb.append(idx[order[same + 1]])
    a, c = np.concatenate(pa), np.concatenate(pb)
    if numkey is not None:
        ok = numkey[a] == numkey[c]
        a, c = a[ok], c[ok]
    agree = np.empty(len(a), dtype=np.float32)
    for s in range(0, len(a), 1 << 16):  # bounded temporaries
        agree[s:s + (1 << 16)] = (sig[a[s:s + (1 << 16)]] == sig[c[s:s + (1 << 16)]]).mean(axis=1)
    a, c = a[agree >= threshold], c[agree >= threshold]
    rep = np.arange(n, dtype=np.int64)
    while len(a):  # min-label propagation with pointer jumping: converges in O(log diameter) rounds
        m = np.minimum(rep[a], rep[c])
        new = rep.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, c, m)
        new = new[new]
        if np.array_equal(new, rep):
            break
        rep = new
    return rep


@dataclass
class TestIndex:
    """Word n-gram hashes of test problems: per n, sorted hashes and the first problem holding each.

    ``labels[k]`` is ``(source, problem id)`` of global problem ``k``; ``sources`` lists what was indexed
    (``{"name", "split", "problems"}``) and ``missing`` the test sets that could not be loaded, with why.
    """

    ns: tuple[int, ...]
    hashes: dict[int, np.ndarray]
    problem: dict[int, np.ndarray]
    labels: list[tuple[str, str]]
    sources: list[dict]
    missing: list[dict] = field(default_factory=list)
    texts: list[str] = field(default_factory=list, repr=False)
    # test problems of CONTAIN_MIN..max(ns)-1 words, by the hash of their first CONTAIN_MIN words (sorted)
    short_head: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64), repr=False)
    short_pid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)
    short_len: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    short_full: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64), repr=False)

    @property
    def n_problems(self) -> int:
        return len(self.labels)

    def match(self, enc: Encoded, pre=None) -> np.ndarray:
        """Rows x len(ns) int32: the smallest test problem sharing an n-gram with the row, or ``NO_MATCH``."""
        pre = pre if pre is not None else _prefix(enc.tok)
        out = np.full((len(enc.lens), len(self.ns)), NO_MATCH, dtype=np.int32)
        for j, n in enumerate(self.ns):
            keys = self.hashes[n]
            if not keys.size:
                continue
            h, woff = window_hashes(enc, n, pre)
            pos = np.minimum(np.searchsorted(keys, h), keys.size - 1)
            hit = np.where(keys[pos] == h, self.problem[n][pos], NO_MATCH).astype(np.int32)
            out[:, j] = _row_min(hit, woff, NO_MATCH)
        if self.short_head.size:
            self._contains_short(enc, pre, out)
        return out

    def _contains_short(self, enc: Encoded, pre, out: np.ndarray) -> None:
        """A row holding a whole test problem shorter than n words (of >= CONTAIN_MIN) matches it at that n.

        Candidates share the problem's first CONTAIN_MIN words; each is verified by the hash of the whole span.
        """
        row, start, length, _ = _windows(enc, CONTAIN_MIN)
        head = _span_hash(pre, start, length)  # a row shorter than CONTAIN_MIN: its whole text, never a head
        lo = np.searchsorted(self.short_head, head, "left")
        cnt = np.searchsorted(self.short_head, head, "right") - lo
        w = np.repeat(np.arange(len(head)), cnt)
        k = lo[w] + (np.arange(len(w)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        row, start, length = row[w], start[w], self.short_len[k]
        ok = start + length <= enc.off[1:][row]
        row, start, length, k = row[ok], start[ok], length[ok], k[ok]
        hit = _span_hash(pre, start, length) == self.short_full[k]
        row, length, pid = row[hit], length[hit], self.short_pid[k[hit]]
        for j, n in enumerate(self.ns):
            sel = length < n
            np.minimum.at(out[:, j], row[sel], pid[sel])


def build_test_index(texts: Iterable[str], ns: Iterable[int] = REPORT_NS, sources: Sequence = (),
                     labels: Sequence[tuple[str, str]] | None = None) -> TestIndex:
    """Index test problems for :func:`decontaminate` and ``harness clean``.

    Args:
        texts: the test problems.
        ns: n-gram lengths to index.
        sources: what the problems are (dicts with ``name``, ``split``, ``problems``; strings are accepted).
        labels: ``(source, id)`` per problem (default ``("test", str(k))``).
    """
    texts = list(texts)
    ns = tuple(sorted(set(ns)))
    enc = Encoder().encode(texts)
    pre = _prefix(enc.tok)
    hashes, problem = {}, {}
    for n in ns:
        h, woff = window_hashes(enc, n, pre)
        pid = np.repeat(np.arange(len(texts), dtype=np.int32), np.diff(woff))
        order = np.lexsort((pid, h))
        h, pid = h[order], pid[order]
        first = np.concatenate(([True], h[1:] != h[:-1])) if h.size else np.zeros(0, dtype=bool)
        hashes[n], problem[n] = h[first], pid[first]
    lens = enc.lens
    short = np.flatnonzero((lens >= CONTAIN_MIN) & (lens < max(ns, default=0)))
    head = _span_hash(pre, enc.off[:-1][short], np.full(len(short), CONTAIN_MIN))
    order = np.argsort(head, kind="stable")
    short, head = short[order], head[order]
    srcs = [s if isinstance(s, dict) else {"name": str(s), "split": "", "problems": None} for s in sources]
    labels = list(labels) if labels is not None else [("test", str(k)) for k in range(len(texts))]
    return TestIndex(ns, hashes, problem, labels, srcs, texts=texts, short_head=head,
                     short_pid=short.astype(np.int32), short_len=lens[short],
                     short_full=_span_hash(pre, enc.off[:-1][short], lens[short]))


def registered_test_index(data_dir=None, ns: Iterable[int] = REPORT_NS, *, extra: Sequence = (),
                          against: Sequence[str] = ()) -> TestIndex:
    """An index over every registered task's evaluation splits (every split but ``train``), plus more.

    Tasks are taken from the registry (:func:`harness.data.task_names`), so new and custom tasks are
    covered without a list here. A task whose data cannot be loaded is recorded in ``missing`` (and
    logged), never silently left out.

    Args:
        data_dir: benchmark data folder (default ``$HARNESS_DATA_DIR``).
        ns: n-gram lengths to index.
        extra: more test sets as ``(name, [(id, question), ...])``.
        against: JSONL files of held-out problems (any shape :func:`harness.sftrows.sft_fields` reads).

    Raises:
        DataError: an ``against`` file is missing or has a row of no known shape.
    """
    from pathlib import Path

    from harness.data import DATA_LAYOUT, get_task, load_task, require_data_dir, task_names
    from harness.errors import DataError, HarnessError
    from harness.io import iter_jsonl
    from harness.sftrows import sft_fields

    texts: list[str] = []
    labels: list[tuple[str, str]] = []
    sources: list[dict] = []
    missing: list[dict] = []

    def add(name: str, split: str, items: Sequence[tuple[str, str]]) -> None:
        texts.extend(q for _, q in items)
        labels.extend((name, i) for i, _ in items)
        sources.append({"name": name, "split": split, "problems": len(items)})

    folder = require_data_dir(data_dir)  # a named folder that is missing stops here, once (the one rule)
    for name in task_names():
        for split in [s for s in get_task(name).splits if s != "train"]:
            try:
                probs = load_task(name, split, data_dir_=data_dir, allow_hub=False)
            except HarnessError as e:
                if folder is not None or get_task(name).path is not None:
                    log.warning("decontamination: %s/%s not indexed (%s)", name, split, e)
                missing.append({"name": name, "split": split, "why": str(e)})
                continue
            add(name, split, [(p.id, p.question) for p in probs])
    unnamed = [f"{m['name']}/{m['split']}" for m in missing if get_task(m["name"]).path is None]
    if folder is None and unnamed:
        log.warning("decontamination: no data folder (--data-dir / HARNESS_DATA_DIR), so %d registered test sets "
                    "are not indexed (%s); it reads local files only. To index them, pass --data-dir <dir> or set "
                    "HARNESS_DATA_DIR=<dir> with a folder laid out as %s", len(unnamed), ", ".join(unnamed),
                    DATA_LAYOUT)
    for name, items in extra:
        add(name, "test", list(items))
    for path in against:
        if not Path(path).is_file():
            raise DataError(f"Expected a JSONL file of held-out problems at {path} (--against); it does not exist.")
        items = [(f"row {k}", sft_fields(o, f"{path}: row {k}").problem) for k, o in enumerate(iter_jsonl(path), 1)]
        add(str(path), "against", items)
    idx = build_test_index(texts, ns, sources, labels)
    idx.missing = missing
    return idx


@dataclass(frozen=True)
class DedupResult:
    keep: list[int]  # indices kept, in input order
    exact: int  # removed as exact duplicates
    near: int  # removed as near duplicates


def dedup(texts: Sequence[str], *, threshold: float = 0.8, shingle: int = 3, num_perm: int = 64, bands: int = 16,
          numbers_must_match: bool = True, seed: int = 0) -> DedupResult:
    """Remove exact and near duplicates of a list held in memory; the first occurrence is kept.

    The same kernels as ``harness clean`` (which streams files of any size).

    Args:
        texts: problem texts.
        threshold: signature agreement (estimated shingle Jaccard) at or above which texts are near duplicates.
        shingle: words per shingle.
        num_perm: MinHash permutations (must be divisible by ``bands``).
        bands: LSH bands (candidates share one whole band).
        numbers_must_match: near duplicates must also have the same numbers.
        seed: seed of the MinHash permutations.

    Returns:
        A :class:`DedupResult`.
    """
    enc = Encoder().encode(texts)
    whole = whole_hashes(enc)
    _, first = np.unique(whole, return_index=True)
    alive = np.zeros(len(texts), dtype=bool)
    alive[first] = True
    sig = minhash(enc, shingle=shingle, num_perm=num_perm, seed=seed)
    rep = near_duplicates(sig, number_keys(enc) if numbers_must_match else None, alive, bands=bands,
                          threshold=threshold)
    keep = [i for i in range(len(texts)) if alive[i] and rep[i] == i]
    return DedupResult(keep, len(texts) - len(first), len(first) - len(keep))


def decontaminate(texts: Sequence[str], index: TestIndex, n: int = 30) -> tuple[list[int], dict]:
    """Indices of texts sharing no word n-gram with the test sets, plus what each indexed n would remove.

    Returns:
        ``(keep, report)``; ``report`` has ``n``, ``removed``, ``removed_by_n`` ({n: count}),
        ``by_test_set`` ({source: count}), ``test_sets`` and ``missing`` (test sets not indexed).

    Raises:
        ValueError: ``n`` was not indexed.
    """
    if n not in index.ns:
        raise ValueError(f"n={n} was not indexed; build the index with ns including {n}")
    m = index.match(Encoder().encode(texts))
    hit = m[:, index.ns.index(n)]
    keep = [i for i in range(len(texts)) if hit[i] == NO_MATCH]
    by_set: dict[str, int] = {}
    for k in hit[hit != NO_MATCH]:
        by_set[index.labels[k][0]] = by_set.get(index.labels[k][0], 0) + 1
    return keep, {"n": n, "removed": len(texts) - len(keep),
                  "removed_by_n": {x: int((m[:, j] != NO_MATCH).sum()) for j, x in enumerate(index.ns)},
                  "by_test_set": by_set, "test_sets": index.sources, "missing": index.missing}
