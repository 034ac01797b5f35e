"""A progress bar on stderr, standard library only.

Drawn only when asked (``--progress``) or when stderr is a terminal, so logs and pipes get
plain lines instead of carriage returns. Redrawn at most a few times a second.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "wants_bar"]

_WIDTH = 30


def wants_bar(choice: bool | None, stream: TextIO | None = None) -> bool:
    """Whether to draw a bar: ``choice`` if given (--progress / --no-progress), else a TTY."""
    if choice is not None:
        return choice
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """``with Progress(total, "Entries") as bar: bar.advance(n)``; no output when disabled."""

    def __init__(
        self,
        total: int,
        label: str,
        *,
        enabled: bool,
        stream: TextIO | None = None,
        interval: float = 0.2,
        unit: str = "entries",
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.enabled = enabled and total > 0
        self.stream = stream or sys.stderr
        self.interval = interval
        self.unit = unit
        self.done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._drawn_done = -1

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def advance(self, count: int) -> None:
        """Count ``count`` more items done; redraw if it is time."""
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn_at >= self.interval or self.done >= self.total:
            self._drawn_at = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._drawn_done = self.done
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(fraction * _WIDTH)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        elapsed = now - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if rate > 0 and self.done < self.total:
            left = (self.total - self.done) / rate
            eta = f", {int(left) // 60}:{int(left) % 60:02d} left"
        else:
            eta = ""
        self.stream.write(
            f"\r{self.label} [{bar}] {fraction:4.0%} {self.done:,}/{self.total:,} "
            f"{self.unit} ({rate:,.0f}/s{eta})\x1b[K"
        )
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line (once), so the next message starts on a fresh line."""
        if self.enabled:
            if self._drawn_done != self.done:
                self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False
