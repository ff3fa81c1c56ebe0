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

Subcommands change no venv; an interrupted one says so and exits 130 too.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pipenv_sync_ext.errors import EXIT_INTERRUPTED, SyncError

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

    def interrupted(self) -> int:
        print(self.message(), file=sys.stderr)
        return EXIT_INTERRUPTED


class Interrupted(BaseException):
    """Ctrl-C in a subcommand: not a KeyboardInterrupt, which the output layer reports as an error."""


def interruptible(command: Callable[[], int]) -> int:
    """Run a subcommand; Ctrl-C is one line and exit 130."""

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    try:
        previous = signal.signal(signal.SIGINT, _raise)
    except ValueError:  # not the main thread: leave Python's own handling
        return command()
    try:
        return command()
    except (Interrupted, KeyboardInterrupt):
        print("pipenv-sync: interrupted; no venv was changed (the store is safe to interrupt)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
