"""How the stages talk to whoever runs them: message callbacks and a download-progress protocol.

The stages (store, install, pipeline) say what they do through ``warn`` and
``log`` callables (:data:`Say`) and report downloads and phases through a
:class:`Progress`; they never import the CLI. The CLI supplies the display
(:mod:`pipenv_sync_ext.cli.progress` draws a live display with rich on a terminal); a
library caller gets :class:`LineProgress`, plain lines through ``log``.

Phases (:meth:`Progress.step`) count packages of a known total (unpacked,
removed, linked), or spin when the total is unknown (pip builds). A plain
display says nothing about them: their lines would only repeat the report,
and the plain output stays what scripts have always parsed.
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


#: The phases of a sync, in order (:meth:`Progress.step`).
PREPARE = "prepare"  # every artifact found, downloaded or built, and checked
UNPACK = "unpack"  # unpacked into the store (part of "Prepared N packages")
REMOVE = "remove"
INSTALL = "install"  # linked into the venv
BUILD = "build"  # direct entries installed by pip (no total: a spinner)


class Step(Protocol):
    """One phase: ``advance`` per package done (any thread), then ``done`` once."""

    def advance(self, n: int = 1) -> None: ...

    def done(self) -> None: ...


class Progress(Protocol):
    """Where downloads and phases are reported; thread-safe (downloads run in a pool).

    ``close`` ends the downloads' display (the store calls it once its downloads are over);
    phases may follow.
    """

    def download(self, filename: str) -> DownloadTask: ...

    def step(self, phase: str, total: int | None, *, label: str = "") -> Step: ...

    def close(self) -> None: ...


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


SILENT: Step = _Silent()


def step_of(progress: Progress | None, phase: str, *, total: int | None, label: str = "") -> Step:
    """``progress.step(...)``, or a step that shows nothing for a caller without a display."""
    return SILENT if progress is None else progress.step(phase, total, label=label)


class LineProgress:
    """``Downloading X`` when a download starts, ``Downloaded X (size)`` when it is in the store."""

    def __init__(self, log: Say) -> None:
        self._log = locked(log)

    def download(self, filename: str) -> _LineTask:
        self._log(f"Downloading {filename}")
        return _LineTask(self._log, filename)

    def step(self, phase: str, total: int | None, *, label: str = "") -> Step:
        return SILENT

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
