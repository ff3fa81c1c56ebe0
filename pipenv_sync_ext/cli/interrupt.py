"""Ctrl-C: one line saying whether the venv was changed and that the next run repairs it; exit 130.

Whether a change began is read from the venv itself, not from the pipeline's
state (which a KeyboardInterrupt may cut anywhere): the journal
(``<venv>/.pipenv-sync-journal.json``) exists from the first change of the
installs to their last; the sync stamp is removed before any change; and any
install or removal changes a site-packages directory's mtime (a
``.dist-info`` appears or goes), which also covers the pip-built entries
installed after the journal is closed. So: journal present -> cut short in
the middle; stamp or site-packages different from the start -> changed;
neither -> nothing was changed. Every step of a sync is made safe to
interrupt, so in each case running the same command again finishes the job.

Before any change, Ctrl-C ends the process at once (:meth:`Watch.handler`):
the fetch runs in worker threads that a KeyboardInterrupt does not stop (each
may wait out its connection timeout and retries, 90 s for a silent host), and
nothing is lost by not waiting for them, since every step of a sync is made
to survive a SIGKILL (staged, renamed, journalled; the venv lock is the
kernel's). Once a change has begun (journal, stamp or site-packages, or a
venv being built beside the target) the KeyboardInterrupt is raised as usual,
so that the pipeline's own cleanup runs (a pip it waits for is killed, a
staging venv removed) before the message.

Subcommands change no venv; an interrupted one says so at once and exits 130
once its cleanup is done (a wheelhouse's partial copy is removed; downloads in
flight are waited for); a second Ctrl-C ends it at once.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pipenv_sync_ext.cli.output import emit
from pipenv_sync_ext.errors import EXIT_INTERRUPTED, SyncError, TargetError
from pipenv_sync_ext.redact import redact

JOURNAL = ".pipenv-sync-journal.json"  # install/journal.py's name; not imported: the CLI reads, never writes it
STAMP = ".pipenv-sync-stamp.json"


def _venv_of(args: argparse.Namespace) -> Path | None:
    if args.venv is not None:
        return Path(os.path.abspath(args.venv))
    from pipenv_sync_ext.target.project import find_project, locate_venv

    try:
        return locate_venv(find_project(args.project))
    except (SyncError, OSError, ValueError):
        return None


def _fingerprint(venv: Path | None) -> tuple[object, ...]:
    if venv is None:
        return ()
    seen: list[object] = []
    for path in [venv / STAMP, *sorted(venv.glob("lib/python*/site-packages")), *venv.glob("Lib/site-packages")]:
        try:
            st = os.stat(path)
            seen.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            seen.append((str(path), None))
    return (venv.is_dir(), *seen)


@dataclass(frozen=True)
class Watch:
    venv: Path | None
    before: tuple[object, ...]

    @classmethod
    def start(cls, args: argparse.Namespace) -> Watch:
        venv = _venv_of(args)
        return cls(venv, _fingerprint(venv))

    def message(self) -> str:
        if self.venv is None:
            return "pipenv-sync: interrupted; run the same command again to finish the sync"
        if (self.venv / JOURNAL).exists():
            return (
                f"pipenv-sync: interrupted while changing {self.venv}; "
                "run the same command again: it repairs the venv and finishes the sync"
            )
        if _fingerprint(self.venv) != self.before:
            return f"pipenv-sync: interrupted after {self.venv} was changed; run the same command again to finish it"
        return f"pipenv-sync: interrupted; {self.venv} was not changed"

    def unchanged(self) -> bool:
        """Nothing of the venv has changed yet, and no venv is being built beside it."""
        if self.venv is None or (self.venv / JOURNAL).exists() or _fingerprint(self.venv) != self.before:
            return False
        from pipenv_sync_ext.target.venv import leftovers

        return not leftovers(Path(os.path.realpath(self.venv)))

    @contextmanager
    def handler(self) -> Iterator[None]:
        """While a sync runs: Ctrl-C before any change exits now; after, it is a KeyboardInterrupt."""

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            if self.unchanged():
                _last_words(self.message())
            raise KeyboardInterrupt

        try:
            previous = signal.signal(signal.SIGINT, on_sigint)
        except ValueError:  # not the main thread: Python's own handling
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def refused(self, exc: OSError) -> SyncError | None:
        """A venv the filesystem will not let us change, named as the venv (not the first file tried)."""
        if self.venv is None or exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or not exc.filename:
            return None
        inside = os.path.abspath(exc.filename)
        if inside != str(self.venv) and not inside.startswith(str(self.venv) + os.sep):
            return None
        # Not the file: the first one tried is always the stamp, which tells the user nothing.
        return TargetError(
            f"{self.venv}: cannot be written ({exc.strerror})",
            hint="make it writable, or sync another venv (--venv DIR)",
        )

    def interrupted(self) -> int:
        emit(self.message(), stream=sys.stderr)
        return EXIT_INTERRUPTED


def _last_words(message: str) -> None:
    """Print ``message`` as the last line and end the process, not waiting for the worker threads.

    stdout and stderr are pointed at /dev/null first, so that a thread logging a
    retry at this moment cannot print after the message.
    """
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
        own = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        from pipenv_sync_ext.cli.progress import abandon  # a live display's cursor, shown again

        os.write(own, (abandon() + redact(message) + "\n").encode(errors="replace"))
    os._exit(EXIT_INTERRUPTED)


class Interrupted(BaseException):
    """Ctrl-C in a subcommand: not a KeyboardInterrupt, which the output layer reports as an error."""


SUBCOMMAND_INTERRUPTED = "pipenv-sync: interrupted; no venv was changed (the store is safe to interrupt)"


def interruptible(command: Callable[[], int]) -> int:
    """Run a subcommand; Ctrl-C is one line and exit 130."""
    said: list[bool] = []

    def _raise(signum: int, frame: FrameType | None) -> None:
        if said:  # the second Ctrl-C: do not wait for the cleanup
            os._exit(EXIT_INTERRUPTED)
        said.append(True)
        emit(SUBCOMMAND_INTERRUPTED, stream=sys.stderr)
        sys.stderr.flush()
        raise Interrupted

    try:
        previous = signal.signal(signal.SIGINT, _raise)
    except ValueError:  # not the main thread: leave Python's own handling
        return command()
    try:
        return command()
    except (Interrupted, KeyboardInterrupt):
        if not said:
            emit(SUBCOMMAND_INTERRUPTED, stream=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
