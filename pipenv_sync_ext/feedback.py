"""How the stages talk to whoever runs them: message callbacks and a download-progress protocol.

The stages (store, install, pipeline) say what they do through ``warn`` and
``log`` callables (:data:`Say`) and report downloads through a
:class:`Progress`; they never import the CLI. The CLI supplies the display
(:mod:`pipenv_sync_ext.cli.progress` draws a status line on a terminal); a
library caller gets :class:`LineProgress`, plain lines through ``log``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

Say = Callable[[str], None]

#: Held while a line is written: ``print`` writes a line and its newline separately, so lines
#: from download threads would interleave without it.
OUTPUT_LOCK = threading.RLock()


def locked(log: Say) -> Say:
    """``log``, one whole line at a time across threads."""

    def say(message: str) -> None:
        with OUTPUT_LOCK:
            log(message)

    return say


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class Transfer(Protocol):
    """Progress of one download as the HTTP client sees it; ``start`` is called again (from zero) by a retry."""

    def start(self, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...


class DownloadTask(Transfer, Protocol):
    """One file's transfer, then done or failed."""

    def done(self) -> None: ...

    def failed(self) -> None: ...


class Progress(Protocol):
    """Where downloads are reported; thread-safe (downloads run in a pool)."""

    def download(self, filename: str) -> DownloadTask: ...

    def close(self) -> None: ...


class LineProgress:
    """``Downloading X`` when a download starts, ``Downloaded X (size)`` when it is in the store."""

    def __init__(self, log: Say) -> None:
        self._log = locked(log)

    def download(self, filename: str) -> _LineTask:
        self._log(f"Downloading {filename}")
        return _LineTask(self._log, filename)

    def close(self) -> None:
        pass


class _LineTask:
    def __init__(self, log: Say, filename: str) -> None:
        self._log = log
        self.filename = filename
        self.received = 0

    def start(self, total: int | None) -> None:
        self.received = 0

    def advance(self, n: int) -> None:
        self.received += n

    def done(self) -> None:
        self._log(f"Downloaded {self.filename} ({human_size(self.received)})")

    def failed(self) -> None:
        pass
