"""A progress bar for `landcycle import` on a terminal (stderr); silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

PHASES = {
    "reading": "reading the file",
    "geometry": "checking geometry",
    "staging": "staging (COPY)",
    "locating": "locating zones and districts",
    "overlaps": "checking overlaps",
    "rules": "applying the rules",
    "inserting": "inserting",
    "zones": "writing zones",
    "districts": "writing districts",
}


class TerminalProgress:
    """Callable as bulk progress: `progress(phase, done, total)`; redraws at most 10 times a second."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.width = width
        self.started = time.perf_counter()
        self._last = 0.0
        self._phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (phase == self._phase and now - self._last < 0.1 and done < total):
            return
        self._phase, self._last = phase, now
        label = PHASES.get(phase, phase)
        if total > 0:
            filled = int(self.width * min(done, total) / total)
            bar = "█" * filled + "░" * (self.width - filled)
            line = f"[import] {label:<30} ▕{bar}▏ {done:,}/{total:,}"
        else:
            line = f"[import] {label}"
        self.stream.write(f"\r\033[K{line}  {now - self.started:5.1f} s")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled and self._phase:
            self.stream.write("\r\033[K")
            self.stream.flush()
