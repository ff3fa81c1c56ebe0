"""Download progress for the CLI: a redrawn status line on a terminal, plain lines otherwise.

Implements :class:`pipenv_sync_ext.feedback.Progress`.

Thread-safe (downloads run in a pool). Plain mode says ``Downloading X`` when a
download starts and ``Downloaded X (size)`` when it is in the store, through
the caller's ``log`` (so ``-q`` silences it). On a terminal the same finished
lines are printed above one status line (files done, bytes received of the
expected total, the file being received), redrawn at most ten times a second.
"""

from __future__ import annotations

import time
from typing import TextIO

from pipenv_sync_ext.feedback import OUTPUT_LOCK, Say, human_size, locked


class Progress:
    def __init__(self, log: Say, live: TextIO | None = None) -> None:
        """``live``: a terminal to draw the status line on (None: plain lines through ``log``)."""
        self._log = locked(log)
        self._live = live
        self._lock = OUTPUT_LOCK
        self._active: dict[int, Download] = {}
        self._done = 0
        self._started = 0
        self._bytes_done = 0
        self._last_draw = 0.0
        self._drawn = False

    def download(self, filename: str) -> Download:
        with self._lock:
            self._started += 1
            task = Download(self, filename)
            self._active[id(task)] = task
        if self._live is None:
            self._log(f"Downloading {filename}")
        return task

    def close(self) -> None:
        with self._lock:
            self._clear()

    # -- called by Download --------------------------------------------------------------------

    def _finish(self, task: Download, ok: bool) -> None:
        with self._lock:
            self._active.pop(id(task), None)
            if not ok:
                self._draw(force=True)
                return
            self._done += 1
            self._bytes_done += task.received
            line = f"Downloaded {task.filename} ({human_size(task.received)})"
            if self._live is None:
                self._log(line)
                return
            self._clear()
            self._live.write(line + "\n")
            self._draw(force=True)

    def _changed(self) -> None:
        if self._live is not None:
            with self._lock:
                self._draw(force=False)

    def _clear(self) -> None:
        if self._live is not None and self._drawn:
            self._live.write("\r\x1b[K")
            self._live.flush()
            self._drawn = False

    def _draw(self, *, force: bool) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        if not self._active:
            self._clear()
            return
        received = self._bytes_done + sum(t.received for t in self._active.values())
        totals = [t.total for t in self._active.values()]
        expected = "" if None in totals else f" of {human_size(self._bytes_done + sum(t or 0 for t in totals))}"
        newest = list(self._active.values())[-1].filename
        line = f"[{self._done}/{self._started} files] {human_size(received)}{expected} {newest}"
        self._live.write("\r\x1b[K" + line[:119])
        self._live.flush()
        self._drawn = True


class Download:
    """One file's transfer (:class:`pipenv_sync_ext.fetch.Transfer`), then done or failed."""

    def __init__(self, progress: Progress, filename: str) -> None:
        self._progress = progress
        self.filename = filename
        self.total: int | None = None
        self.received = 0

    def start(self, total: int | None) -> None:
        self.total = total
        self.received = 0
        self._progress._changed()

    def advance(self, n: int) -> None:
        self.received += n
        self._progress._changed()

    def done(self) -> None:
        self._progress._finish(self, True)

    def failed(self) -> None:
        self._progress._finish(self, False)
