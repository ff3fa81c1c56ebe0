"""A test-only crash switch: ``PIPENV_SYNC_TEST_CRASH_AFTER=N`` SIGKILLs the sync at its Nth file operation.

The crash-safety tests use it to kill a real sync between any two file
operations (each file written or removed, each metadata directory renamed)
and check that the next run repairs the venv. Unset, it costs one integer
comparison per operation.
"""

from __future__ import annotations

import os
import signal

_limit = int(os.environ.get("PIPENV_SYNC_TEST_CRASH_AFTER", "0") or 0)
_count = 0


def step() -> None:
    global _count
    if not _limit:
        return
    _count += 1
    if _count >= _limit:
        os.kill(os.getpid(), signal.SIGKILL)
