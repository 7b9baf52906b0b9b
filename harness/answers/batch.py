"""Batch grading: many (output, gold) pairs in one call, in-process or on a reusable process pool.

:func:`grade_batch` is what RL trainers and bulk regrading call: thousands of completions per step,
often from worker threads or an event loop. Verdicts are those of :func:`harness.answers.grade`,
item by item, whatever the execution strategy:

- ``workers=None`` or ``0``: in this process, one item after another (the engine's own budget bounds
  each item's time; nothing can be killed in-process);
- ``workers=N``: on a process pool of N workers (`pebble <https://pypi.org/project/Pebble/>`_
  ``ProcessPool``), started on first use and reused by every later call with the same shape
  (:func:`shared_pool`). Items travel in chunks (consecutive items, each distinct gold sent once per
  chunk: a GRPO group repeats its gold), so one process round trip serves many items. A chunk that
  overruns ``timeout_s`` has its worker killed and replaced; its items are then graded one by one,
  each with ``timeout_s``, so only the item that overruns alone becomes ``timeout`` and the batch
  always returns. A worker that dies (a crash, the memory limit) makes its item ``error``. Each
  worker's heap is bounded (``RLIMIT_DATA``: ``memory_mb`` above its size at start) and a worker is
  replaced after ``max_tasks`` chunks.

Identical (output, gold) pairs are graded once (a verdict is a function of its inputs).

Why this lives in ``harness.answers``, which is pure: the pool is process management, not I/O; no
file, socket or clock enters a verdict (the ``timeout_s`` kill is a last-resort backstop far above the
engine's own bound, and is reported as ``timeout``, never as ``wrong``). Workers start with the
``spawn`` method, so a pool can be started from a process with threads (a trainer, a server) without
inheriting their locks (each worker imports the program's main module, so a script that starts a pool
keeps its work under ``if __name__ == "__main__":``).

Threads and asyncio: :func:`grade_batch` may be called from many threads at once (they share the pool;
each call waits only on its own items); :func:`grade_batch_async` awaits the pool without blocking
the event loop.

Examples:
    >>> [g.status for g in grade_batch(["$\\\\boxed{2}$", "$\\\\boxed{3}$"], ["2", "2"])]
    ['correct', 'wrong']
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from harness.answers.grader import grade
from harness.answers.rules import AnswerRules, as_rules
from harness.answers.types import Grade

logger = logging.getLogger(__name__)

#: Per-item wall-clock backstop in a pool worker (seconds). Far above the engine's own bound (about
#: 0.5 s for the most hostile answers known), so it only fires on a runaway, which it reports as ``timeout``.
DEFAULT_TIMEOUT_S = 10.0
#: Heap a worker may add after start-up (MiB), enforced with ``RLIMIT_DATA``; past it the item is ``error``.
DEFAULT_MEMORY_MB = 2048
#: Chunks a worker grades before it is replaced (keeps any slow growth of a long-lived process in check).
DEFAULT_MAX_TASKS = 1000
#: Most items and characters per chunk (a chunk's round trip should stay well under ``timeout_s``).
CHUNK_ITEMS = 64
CHUNK_CHARS = 512 * 1024

Gold = str | Sequence[str]
GradeFn = Callable[..., Grade]


def _gold_key(gold: Gold, i: int) -> str | tuple[str, ...]:
    if isinstance(gold, str):
        return gold
    if isinstance(gold, (list, tuple)) and gold:
        return tuple(str(g) for g in gold)
    raise ValueError(f"golds[{i}] must be a string or a non-empty list of accepted answers, got {gold!r}"[:200])


def _prepare(
    outputs: Sequence[Any], golds: Sequence[Gold], task: str | AnswerRules, mode: str, rel_tol: float | None
) -> tuple[AnswerRules, list[tuple[Any, str | tuple[str, ...]]], list[int]]:
    """Check the arguments; return the rules, the distinct (output, gold) pairs and, per item, the
    index of its pair."""
    if mode not in ("strict", "flexible"):
        raise ValueError(f"mode must be 'strict' or 'flexible', got {mode!r}")
    if isinstance(outputs, str) or isinstance(golds, str):
        raise ValueError("outputs and golds must be sequences (one entry per item), not a single string")
    if len(outputs) != len(golds):
        raise ValueError(f"expected one gold per output, found {len(outputs)} outputs and {len(golds)} golds")
    rules = as_rules(task, rel_tol)
    pairs: list[tuple[Any, str | tuple[str, ...]]] = []
    seen: dict[tuple[Any, str | tuple[str, ...]], int] = {}
    index: list[int] = []
    for i, (out, gold) in enumerate(zip(outputs, golds)):
        key = (out if isinstance(out, str) else None, _gold_key(gold, i))  # grade(): non-text is no_answer
        j = seen.get(key)
        if j is None:
            j = seen[key] = len(pairs)
            pairs.append(key)
        index.append(j)
    return rules, pairs, index


def grade_batch(
    outputs: Sequence[Any],
    golds: Sequence[Gold],
    task: str | AnswerRules = "math",
    mode: str = "strict",
    *,
    workers: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    rel_tol: float | None = None,
    pool: GradingPool | None = None,
) -> list[Grade]:
    """Grade ``outputs[i]`` against ``golds[i]`` for every i; the verdicts of :func:`grade`, in order.

    Args:
        outputs: model completions (untrusted; a non-string is ``no_answer``).
        golds: one gold per output: a string, or a list of accepted alternatives.
        task: the task's :class:`AnswerRules` (``harness.data.answer_rules(name)`` for any registered
            task), or a family / built-in name (``math``, ``math500``, ``gsm8k``).
        mode: ``strict`` or ``flexible`` extraction.
        workers: None or 0 grades in this process; N > 0 uses the shared pool of N worker processes
            (started on first use, reused afterwards; see :func:`shared_pool`).
        timeout_s: with workers, the wall-clock limit of one item; an item past it is ``timeout`` (its
            worker is killed and replaced). Ignored in-process.
        rel_tol: relative numeric tolerance (overrides the rules' own).
        pool: a :class:`GradingPool` of your own (its limits, its lifetime) instead of the shared one;
            ``workers`` is then ignored.

    Returns:
        One :class:`Grade` per item, in input order.

    Raises:
        ValueError: lengths differ, an empty gold list, a bad ``mode``/``rel_tol``/``workers``/``timeout_s``.

    Examples:
        >>> [g.status for g in grade_batch(["#### 5", "no idea"], ["5", "5"], "gsm8k")]
        ['correct', 'no_answer']
    """
    rules, pairs, index = _prepare(outputs, golds, task, mode, rel_tol)
    if pool is not None:
        graded = pool.grade_pairs(pairs, rules, mode, timeout_s)
    elif workers is None or workers == 0:
        graded = [grade(out, gold, rules, mode) for out, gold in pairs]
    else:
        graded = shared_pool(workers).grade_pairs(pairs, rules, mode, timeout_s)
    return [graded[j] for j in index]


async def grade_batch_async(
    outputs: Sequence[Any],
    golds: Sequence[Gold],
    task: str | AnswerRules = "math",
    mode: str = "strict",
    *,
    workers: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    rel_tol: float | None = None,
    pool: GradingPool | None = None,
) -> list[Grade]:
    """:func:`grade_batch` for an event loop: with workers it awaits the pool's futures; in-process it
    grades on the loop's default thread executor. Same arguments, same verdicts.

    Examples:
        >>> import asyncio
        >>> [g.status for g in asyncio.run(grade_batch_async(["$\\\\boxed{2}$"], ["2"]))]
        ['correct']
    """
    rules, pairs, index = _prepare(outputs, golds, task, mode, rel_tol)
    if pool is not None:
        graded = await pool.grade_pairs_async(pairs, rules, mode, timeout_s)
    elif workers is None or workers == 0:
        loop = asyncio.get_running_loop()
        graded = await loop.run_in_executor(None, lambda: [grade(o, g, rules, mode) for o, g in pairs])
    else:
        graded = await shared_pool(workers).grade_pairs_async(pairs, rules, mode, timeout_s)
    return [graded[j] for j in index]


# -- the pool ------------------------------------------------------------------------------------------


def _init_worker(memory_mb: int) -> None:
    """Runs in each new worker: bound its heap, leave Ctrl-C to the parent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool; a worker never dies half-way
    try:
        import resource
    except ImportError:  # not on POSIX: no limit
        return
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # what the worker holds at start
    limit = start + memory_mb * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _grade_chunk(
    grade_fn: GradeFn, rules: AnswerRules, mode: str, golds: list[str | tuple[str, ...]], items: list[tuple[Any, int]]
) -> list[tuple[bool, str | None, str]]:
    """Runs in a worker: grade each (output, index into golds); an exception is that item's ``error``."""
    out: list[tuple[bool, str | None, str]] = []
    for output, gi in items:
        try:
            g = grade_fn(output, golds[gi], rules, mode)
            out.append((g.correct, g.extracted, g.status))
        except Exception as exc:  # noqa: BLE001 - MemoryError past the heap limit, or a bug: counted
            logger.warning("grading failed in a worker (status 'error'): %r", exc)
            out.append((False, None, "error"))
    return out


class GradingPool:
    """A pool of grading worker processes, started on first use, safe to share between threads.

    Args:
        workers: number of worker processes (>= 1).
        memory_mb: heap each worker may add after start-up; past it an item is ``error``.
        max_tasks: chunks a worker grades before it is replaced.
        grade_fn: the function a worker calls per item, ``grade_fn(output, gold, rules, mode) -> Grade``
            (default :func:`grade`; tests pass a deliberately slow or greedy one). It must be importable
            by name in a fresh process (a module-level function).

    Examples:
        >>> pool = GradingPool(2)  # doctest: +SKIP
        >>> pool.grade_pairs([("$\\\\boxed{2}$", "2")], as_rules("math"), "strict", 10.0)  # doctest: +SKIP
        [Grade(correct=True, extracted='2', status='correct')]
        >>> pool.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        workers: int,
        *,
        memory_mb: int = DEFAULT_MEMORY_MB,
        max_tasks: int = DEFAULT_MAX_TASKS,
        grade_fn: GradeFn = grade,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1 (or None/0 for in-process), got {workers!r}")
        from pebble import ProcessPool

        self.workers = workers
        self.grade_fn = grade_fn
        self._pool = ProcessPool(
            max_workers=workers,
            max_tasks=max_tasks,
            initializer=_init_worker,
            initargs=(memory_mb,),
            context=multiprocessing.get_context("spawn"),
        )
        self._lock = threading.Lock()
        #: items that overran ``timeout_s`` and whose worker was killed, and items whose worker died
        self.stats = {"killed": 0, "crashed": 0}

    def close(self) -> None:
        """Stop the workers (a running item is killed)."""
        self._pool.stop()
        self._pool.join()

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _chunks(self, pairs: list[tuple[Any, str | tuple[str, ...]]]) -> list[list[int]]:
        n = len(pairs)
        per = max(1, min(CHUNK_ITEMS, -(-n // (4 * self.workers))))  # >= 4 chunks per worker to balance
        chunks: list[list[int]] = []
        cur: list[int] = []
        chars = 0
        for i, (out, _) in enumerate(pairs):
            size = len(out) if isinstance(out, str) else 0
            if cur and (len(cur) >= per or chars + size > CHUNK_CHARS):
                chunks.append(cur)
                cur, chars = [], 0
            cur.append(i)
            chars += size
        if cur:
            chunks.append(cur)
        return chunks

    def _submit(self, pairs, idx: list[int], rules: AnswerRules, mode: str, timeout_s: float) -> Future:
        golds: list[str | tuple[str, ...]] = []
        where: dict[str | tuple[str, ...], int] = {}
        items = []
        for i in idx:
            out, gold = pairs[i]
            gi = where.get(gold)
            if gi is None:
                gi = where[gold] = len(golds)
                golds.append(gold)
            items.append((out, gi))
        return self._pool.schedule(_grade_chunk, args=(self.grade_fn, rules, mode, golds, items), timeout=timeout_s)

    def _failed(self, exc: BaseException, single: bool) -> Grade | None:
        """The verdict for an item whose task failed with ``exc``; None for a chunk (graded again item by
        item, so that only the item at fault gets the verdict)."""
        if not single:
            return None
        timed_out = isinstance(exc, (FutureTimeout, TimeoutError))
        with self._lock:
            self.stats["killed" if timed_out else "crashed"] += 1
        if timed_out:
            logger.warning("an item overran the grading timeout; its worker was killed (status 'timeout')")
            return Grade(False, None, "timeout")
        logger.warning("a grading worker died or failed on an item (status 'error'): %r", exc)
        return Grade(False, None, "error")

    def _check(self, timeout_s: float) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ValueError(f"timeout_s must be a number > 0, got {timeout_s!r}")

    def grade_pairs(
        self, pairs: list[tuple[Any, str | tuple[str, ...]]], rules: AnswerRules, mode: str, timeout_s: float
    ) -> list[Grade]:
        """Grade (output, gold) pairs on the pool; blocks until every item has a verdict."""
        self._check(timeout_s)
        results: list[Grade | None] = [None] * len(pairs)
        todo = [(c, False) for c in self._chunks(pairs)]
        while todo:
            futures = [(idx, single, self._submit(pairs, idx, rules, mode, timeout_s)) for idx, single in todo]
            todo = []
            for idx, single, fut in futures:
                try:
                    done = fut.result()
                except BaseException as exc:  # noqa: BLE001 - timeout, a dead worker: handled per item
                    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                        raise
                    failed = self._failed(exc, single)
                    if failed is None:
                        todo += [([i], True) for i in idx]
                    else:
                        results[idx[0]] = failed
                    continue
                for i, (c, e, s) in zip(idx, done):
                    results[i] = Grade(c, e, s)  # type: ignore[arg-type]
        return results  # type: ignore[return-value]

    async def grade_pairs_async(
        self, pairs: list[tuple[Any, str | tuple[str, ...]]], rules: AnswerRules, mode: str, timeout_s: float
    ) -> list[Grade]:
        """:meth:`grade_pairs` that awaits the pool instead of blocking the event loop."""
        self._check(timeout_s)
        results: list[Grade | None] = [None] * len(pairs)
        todo = [(c, False) for c in self._chunks(pairs)]
        while todo:
            submitted = [(idx, single, self._submit(pairs, idx, rules, mode, timeout_s)) for idx, single in todo]
            outcomes = await asyncio.gather(
                *(asyncio.wrap_future(f) for _, _, f in submitted), return_exceptions=True
            )
            todo = []
            for (idx, single, _), outcome in zip(submitted, outcomes):
                if isinstance(outcome, BaseException):
                    if isinstance(outcome, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
                        raise outcome
                    failed = self._failed(outcome, single)
                    if failed is None:
                        todo += [([i], True) for i in idx]
                    else:
                        results[idx[0]] = failed
                    continue
                for i, (c, e, s) in zip(idx, outcome):
                    results[i] = Grade(c, e, s)  # type: ignore[arg-type]
        return results  # type: ignore[return-value]


_POOLS: dict[int, tuple[int, GradingPool]] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(workers: int) -> GradingPool:
    """The process-wide :class:`GradingPool` of ``workers`` workers (default limits), started on first
    use and stopped at interpreter exit. A forked child gets a pool of its own (a pool's threads do not
    survive ``fork``)."""
    pid = multiprocessing.current_process().pid or 0
    with _POOLS_LOCK:
        entry = _POOLS.get(workers)
        if entry is None or entry[0] != pid:
            entry = _POOLS[workers] = (pid, GradingPool(workers))
        return entry[1]


@atexit.register
def _close_pools() -> None:
    pid = multiprocessing.current_process().pid or 0
    with _POOLS_LOCK:
        for owner, pool in _POOLS.values():
            if owner == pid:
                pool.close()
        _POOLS.clear()
