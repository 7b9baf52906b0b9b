"""Progress bars: :func:`bar` (every bar of the project goes through it) and the bar of streamed work
(``harness eval``, teacher synthesis): items done, requests in flight, generated tokens/s and the ETA, on
one tqdm line.

On a terminal a bar redraws in place. When stderr is not a terminal (a log file, CI, a captured
subprocess) redraws with ``\r`` would fill the log with hundreds of partial lines, so the bar instead
prints one plain line every :data:`LOG_INTERVAL_S` seconds and one at the end.

Examples:
    >>> with StreamProgress(total=10, unit="sample", desc="eval", enabled=False) as bar:
    ...     bar.issued(1)
    ...     bar.finished(1, tokens=42)
"""

from __future__ import annotations

import sys
import time
from typing import Any

#: seconds between progress lines when stderr is not a terminal
LOG_INTERVAL_S = 30.0


class _Lines:
    """A file for tqdm that turns its ``\r`` redraws into whole lines (for logs, not terminals)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, s: str) -> None:
        line = s.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def bar(**kwargs: Any) -> Any:
    """A tqdm bar (same arguments as ``tqdm.tqdm``) that prints periodic lines instead of redraws when
    stderr is not a terminal (``disable=None`` keeps tqdm's meaning: shown on terminals only)."""
    from tqdm import tqdm

    stream = kwargs.pop("file", None) or sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        if kwargs.get("disable", False) is None:  # tqdm's "terminals only"
            kwargs["disable"] = True
        kwargs.update(file=_Lines(stream), mininterval=LOG_INTERVAL_S, maxinterval=LOG_INTERVAL_S,
                      dynamic_ncols=False, ncols=100, ascii=True)
    return tqdm(**kwargs)


class StreamProgress:
    """A tqdm bar over items with ``in_flight`` and ``tok/s`` in its postfix (tqdm adds rate and ETA).

    Args:
        total: items in all (done before this run included).
        initial: items already done before this run.
        unit: the item's name ("sample", "unit").
        desc: the bar's label.
        enabled: False hides the bar (counts are still kept).
    """

    def __init__(self, *, total: int, initial: int = 0, unit: str = "it", desc: str = "",
                 enabled: bool = True) -> None:
        self.total, self.initial, self.unit, self.desc, self.enabled = total, initial, unit, desc, enabled
        self.requests_issued = 0
        self.requests_done = 0
        self.tokens = 0
        self._t0 = time.perf_counter()
        self._bar: Any = None

    def __enter__(self) -> StreamProgress:  # noqa: PYI034
        self._t0 = time.perf_counter()
        self._bar = bar(total=self.total, initial=self.initial, unit=self.unit, desc=self.desc,
                        disable=not self.enabled, dynamic_ncols=True, smoothing=0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._show()
            self._bar.close()
            self._bar = None

    @property
    def in_flight(self) -> int:
        """Requests issued to the backend and not yet finished."""
        return self.requests_issued - self.requests_done

    def issued(self, requests: int = 1) -> None:
        """Count requests handed to the backend."""
        self.requests_issued += requests

    def finished(self, items: int, tokens: int = 0, requests: int = 1) -> None:
        """Count a finished request: ``items`` done, ``tokens`` generated."""
        self.requests_done += requests
        self.tokens += tokens
        if self._bar is not None:
            self._show()
            self._bar.update(items)

    def _show(self) -> None:
        dt = time.perf_counter() - self._t0
        self._bar.set_postfix_str(f"in flight {self.in_flight}, {self.tokens / dt if dt > 0 else 0:,.0f} tok/s",
                                  refresh=False)
