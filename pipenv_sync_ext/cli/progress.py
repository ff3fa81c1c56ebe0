"""Progress for the CLI: one live rich display on a terminal, today's plain lines otherwise.

Implements :class:`pipenv_sync_ext.feedback.Progress`; thread-safe (downloads run in a pool).

Decisions:

* **Plain** (no terminal, ``-q``, ``--json``, ``NO_COLOR``, ``PIPENV_NOSPIN``,
  ``TERM=dumb``; :func:`~pipenv_sync_ext.cli.output.animated`): ``Downloading
  X`` when a download starts and ``Downloaded X (size)`` when it is in the
  store, through the caller's ``log`` (so ``-q`` silences it), and nothing
  about phases: the lines scripts have always read.
* **Live** (a terminal): one rich display with a bar per phase: downloads in
  bytes of the total known so far (a file's size is known once its response
  starts), unpacking and linking in packages of total, a spinner for what pip
  builds. No line per file. Each phase that is over leaves one uv-style line on
  stderr: ``Prepared N packages in X`` (downloads, checks and unpacking),
  ``Removed N packages in X``, ``Installed N packages in X`` (linked), ``Installed
  N packages with pip in X``.
* rich is imported when the first thing is drawn, never by a run the stamp
  answers; the console writes through :class:`~pipenv_sync_ext.cli.output.Redacting`.
* The display is transient: once stopped, the terminal shows the summaries and
  the report, not a frozen bar. The store's :meth:`close` (its downloads are
  over) stops it; a later phase starts it again. :meth:`finish` (the command is
  over, or failed) stops it and says what is still unsaid.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from pipenv_sync_ext.feedback import BUILD, INSTALL, PREPARE, REMOVE, UNPACK, Say, Step, human_size, locked

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

#: Displays drawing right now: a process ended at once (Ctrl-C before any change) must give the cursor back.
_SHOWING: set[Progress] = set()

_LABELS = {PREPARE: "Preparing", UNPACK: "Unpacking", REMOVE: "Removing", INSTALL: "Installing", BUILD: "Building"}
_DONE = {REMOVE: "Removed {} in {}", INSTALL: "Installed {} in {}", BUILD: "Installed {} with pip in {}"}


def for_command(args: argparse.Namespace, log: Say) -> Progress:
    """The display a command gets: live on a terminal (stderr), plain lines otherwise."""
    from pipenv_sync_ext.cli.output import animated

    return Progress(log, sys.stderr if animated(sys.stderr, args) else None)


def abandon() -> str:
    """What to write before the last words of a process that ends without stopping its display:
    the cursor shown again and a new line under the bars; nothing when nothing is drawn."""
    return "\x1b[?25h\n" if _SHOWING else ""


def took(seconds: float) -> str:
    """As uv says it: ``499ms``, ``3.34s``."""
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def packages(n: int) -> str:
    return f"{n} package{'' if n == 1 else 's'}"


class Progress:
    def __init__(self, log: Say, live: TextIO | None = None) -> None:
        """``live``: the terminal to draw on (None: plain lines through ``log``)."""
        self._log = locked(log)
        self._live = live
        self._lock = threading.RLock()
        self._console: Console | None = None
        self._bars: RichProgress | None = None
        self._downloads: TaskID | None = None
        self._files = [0, 0]  # done, started
        self._bytes = [0, 0]  # received, expected
        self._prepared: list[float] | None = None  # [packages, seconds] of a "Prepared" line not said yet

    # -- feedback.Progress ---------------------------------------------------------------------

    def download(self, filename: str) -> Download:
        if self._live is None:
            self._log(f"Downloading {filename}")
        else:
            with self._lock:
                self._files[1] += 1
                self._redraw_downloads()
        return Download(self, filename)

    def step(self, phase: str, total: int | None, *, label: str = "") -> Step:
        if self._live is None or total == 0:  # nothing to count: no bar, no "Prepared 0 packages"
            from pipenv_sync_ext.feedback import SILENT

            return SILENT
        with self._lock:
            if phase != UNPACK:
                self._say_prepared()
            bars = self._start()
            text = f"{_LABELS.get(phase, phase)} {label}".strip()
            task = bars.add_task(text, total=total, amount=_count(0, total))
        return Phase(self, phase, (bars, task), total)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def finish(self) -> None:
        """The command is over (or failed): stop drawing and say what is still unsaid."""
        with self._lock:
            self._stop()
            self._say_prepared()

    # -- the display ---------------------------------------------------------------------------

    def _start(self) -> RichProgress:
        if self._bars is None:
            from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            from pipenv_sync_ext.cli.output import console

            assert self._live is not None
            self._console = self._console or console(self._live)
            self._bars = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[amount]}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
                redirect_stdout=False,  # the report is written once the display is gone
                redirect_stderr=True,  # log lines and warnings print above the bars
            )
            self._bars.start()
            _SHOWING.add(self)
        return self._bars

    def _stop(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            _SHOWING.discard(self)
            self._bars = None
            self._downloads = None

    def _say(self, line: str) -> None:
        if self._console is None:
            from pipenv_sync_ext.cli.output import console

            assert self._live is not None
            self._console = console(self._live)
        self._console.print(line, style="dim")

    def _say_prepared(self) -> None:
        if self._prepared is not None:
            n, seconds = self._prepared
            self._prepared = None
            self._say(f"Prepared {packages(int(n))} in {took(seconds)}")

    def _redraw_downloads(self) -> None:
        bars = self._start()
        done, started = self._files
        received, expected = self._bytes
        text = f"Downloading {done}/{started} files"
        amount = f"{human_size(received)}/{human_size(expected)}" if expected else human_size(received)
        if self._downloads is None:
            self._downloads = bars.add_task(text, total=expected or None, amount=amount)
        bars.update(self._downloads, description=text, total=expected or None, completed=received, amount=amount)

    # -- called by Download and Phase ----------------------------------------------------------

    def _transfer(self, *, expected: int = 0, received: int = 0, finished: bool = False) -> None:
        if self._live is None:
            return
        with self._lock:
            self._bytes[0] += received
            self._bytes[1] += expected
            self._files[0] += finished
            self._redraw_downloads()

    def _advance(self, where: tuple[RichProgress, TaskID], done: int, total: int | None) -> None:
        bars, task = where
        with self._lock:
            if self._bars is bars:  # not a display stopped since (its task ids start again from 0)
                bars.update(task, completed=done, amount=_count(done, total))

    def _phase_done(
        self, phase: str, where: tuple[RichProgress, TaskID], total: int | None, *, done: int, seconds: float
    ) -> None:
        bars, task = where
        with self._lock:
            if self._bars is bars:
                # Drawn once complete before it goes: the last frame of a phase says what it did.
                self._bars.update(task, completed=total or 0, amount=_count(total or 0, total))
                self._bars.refresh()
                self._bars.remove_task(task)
                if not self._bars.tasks:
                    self._stop()
            n = done if total is None else total  # a spinner counts what it was told was done
            if phase in (PREPARE, UNPACK):
                if phase == PREPARE:
                    self._prepared = [n, seconds]
                elif self._prepared is not None:
                    self._prepared[1] += seconds  # unpacking is part of preparing
            elif phase in _DONE and n:
                self._say(_DONE[phase].format(packages(n), took(seconds)))


def _count(done: int, total: int | None) -> str:
    return f"{done}/{total}" if total is not None else ""


class Phase:
    """One phase of :meth:`Progress.step` on the live display (:class:`pipenv_sync_ext.feedback.Step`)."""

    def __init__(self, progress: Progress, phase: str, where: tuple[RichProgress, TaskID], total: int | None) -> None:
        self._progress = progress
        self._phase = phase
        self._where = where
        self._total = total
        self._done = 0
        self._started = time.perf_counter()
        self._finished = False

    def advance(self, n: int = 1) -> None:
        with self._progress._lock:
            self._done += n
            self._progress._advance(self._where, self._done, self._total)

    def done(self) -> None:
        with self._progress._lock:
            if not self._finished:
                self._finished = True
                seconds = time.perf_counter() - self._started
                self._progress._phase_done(self._phase, self._where, self._total, done=self._done, seconds=seconds)


class Download:
    """One file's transfer (:class:`pipenv_sync_ext.feedback.DownloadTask`), then done or failed."""

    def __init__(self, progress: Progress, filename: str) -> None:
        self._progress = progress
        self.filename = filename
        self.total: int | None = None
        self.received = 0

    def start(self, total: int | None) -> None:
        # A retry starts again from zero: what the first attempt counted is taken back.
        self._progress._transfer(expected=(total or 0) - (self.total or 0), received=-self.received)
        self.total = total
        self.received = 0

    def advance(self, n: int) -> None:
        self.received += n
        self._progress._transfer(received=n)

    def done(self) -> None:
        if self._progress._live is None:
            self._progress._log(f"Downloaded {self.filename} ({human_size(self.received)})")
        self._progress._transfer(finished=True)

    def failed(self) -> None:
        self._progress._transfer(expected=-(self.total or 0), received=-self.received)
