"""What a run prints: a notice before the first kernel compilation, and progress.

On a terminal, progress is a tqdm bar (redrawn at most twice a second). When stderr is not a
terminal (a log file, CI, a notebook's captured output) it is one plain line every
``interval_seconds`` (60 by default) and at the end, so logs stay short and readable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

_NOTICE_SHOWN = False


def kernel_cache_is_empty() -> bool:
    """True when numba has not yet cached the engine's kernels (the first run compiles them)."""
    import numba

    folder = Path(numba.config.CACHE_DIR)  # set by locallearn._kernel_cache
    return not (folder.exists() and any(folder.rglob("kernels.*.nbi")))


def compile_notice(stream=None) -> None:
    """Print 'compiling kernels (first run only, ~25 s)' once, before the first compilation."""
    global _NOTICE_SHOWN
    if _NOTICE_SHOWN or not kernel_cache_is_empty():
        return
    _NOTICE_SHOWN = True
    print("compiling kernels (first run only, ~25 s)", file=stream or sys.stderr, flush=True)


class Progress:
    """Progress of ``total`` units (trials or steps), with a few figures of the moment."""

    def __init__(
        self,
        total: int,
        unit: str,
        description: str,
        enabled: bool = True,
        stream=None,
        interval_seconds: float = 60.0,
        initial: int = 0,
    ):
        self.total, self.unit, self.description = total, unit, description
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval = interval_seconds
        self.done = initial
        self.status: dict = {}
        self._start = time.perf_counter()
        self._start_done = initial
        self._last_line = -float("inf")
        self._bar = None
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                unit=unit,
                desc=description,
                initial=initial,
                dynamic_ncols=True,
                mininterval=0.5,
                file=self.stream,
            )
        elif enabled:
            self._line()

    def update(self, n: int = 1, **status) -> None:
        self.done += n
        if status:
            self.status.update(status)
        if self._bar is not None:
            self._bar.update(n)
            if status:
                self._bar.set_postfix(self.status, refresh=False)
        elif self.enabled and time.perf_counter() - self._last_line >= self.interval:
            self._line()

    def _line(self) -> None:
        self._last_line = time.perf_counter()
        elapsed = self._last_line - self._start
        rate = (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0
        figures = "".join(f", {k} {v}" for k, v in self.status.items())
        percent = 100 * self.done / self.total if self.total else 100.0
        print(
            f"{self.description}: {self.done:,}/{self.total:,} {self.unit}s ({percent:.0f} %), "
            f"{rate:,.0f} {self.unit}s/s{figures}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self._last_line != time.perf_counter():
            self._line()
        self.enabled = False
