"""A closed pipe is not an error: ``pipenv-sync ... | head -1`` prints what ``head`` reads, and nothing else.

Python ignores SIGPIPE, so writing to a pipe whose reader is gone raises
``BrokenPipeError``; left alone it becomes ``pipenv-sync: error: Broken pipe``
(or "Exception ignored ... BrokenPipeError" at exit, exit 120). Instead the
first failed write points the stream's file descriptor at ``/dev/null`` (as the
Python documentation recommends) and every later write vanishes, so the
command finishes what it was doing and exits with its own code: a sync that
succeeded exits 0 even when nobody read its report, and ``--check`` still
exits 5. The work is never cut short by the reader leaving.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO


class _Guarded:
    """A text stream whose writes and flushes never raise ``BrokenPipeError``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        self.broken = True
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def pipe_safe(command: Callable[[], int]) -> int:
    """Run ``command`` with stdout and stderr guarded; its exit code, whoever stopped reading."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, _Guarded):
        sys.stdout = _Guarded(sys.stdout)
    if not isinstance(sys.stderr, _Guarded):
        sys.stderr = _Guarded(sys.stderr)
    try:
        return command()
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved
