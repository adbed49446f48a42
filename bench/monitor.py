"""Server CPU and memory: psutil over the server's process tree (uvicorn supervisor and workers)."""

from __future__ import annotations

import contextlib
import threading

import psutil


class TreeMonitor:
    """CPU seconds used and peak RSS of a process tree between `start()` and `stop()`."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._root = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu0 = 0.0
        self.peak_rss = 0
        self.cpu_seconds = 0.0

    def _procs(self) -> list[psutil.Process]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _cpu(self) -> float:
        total = 0.0
        for proc in self._procs():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        """Resident memory of the whole tree now (bytes)."""
        total = 0
        for proc in self._procs():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_rss = max(self.peak_rss, self.rss())

    def start(self) -> None:
        """Begin a measurement."""
        self._stop.clear()
        self.peak_rss = self.rss()
        self._cpu0 = self._cpu()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End it: `cpu_seconds` and `peak_rss` hold the results."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.peak_rss = max(self.peak_rss, self.rss())
        self.cpu_seconds = self._cpu() - self._cpu0
