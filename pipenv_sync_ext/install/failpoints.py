"""Test-only switches at each file operation: crash there, or hold there until released.

* ``PIPENV_SYNC_TEST_CRASH_AFTER=N`` signals the sync at its Nth file operation
  (each file written or removed, each metadata directory renamed), with
  ``PIPENV_SYNC_TEST_CRASH_SIGNAL`` (``KILL``, the default, or ``INT``: a Ctrl-C,
  which Python turns into ``KeyboardInterrupt``). The crash-safety tests check
  that the next run repairs the venv.
* ``PIPENV_SYNC_TEST_HOLD_AFTER=N`` with ``PIPENV_SYNC_TEST_HOLD_FILE=path``:
  at the Nth operation the sync creates ``path`` and waits until it is deleted,
  so a test can act while a sync is provably mid-change (two syncs of one venv).

Unset, each costs one integer comparison per operation.
"""

from __future__ import annotations

import os
import signal
import threading
import time

_limit = int(os.environ.get("PIPENV_SYNC_TEST_CRASH_AFTER", "0") or 0)
_signal = signal.SIGINT if os.environ.get("PIPENV_SYNC_TEST_CRASH_SIGNAL", "").upper() == "INT" else signal.SIGKILL
_hold = int(os.environ.get("PIPENV_SYNC_TEST_HOLD_AFTER", "0") or 0)
_hold_file = os.environ.get("PIPENV_SYNC_TEST_HOLD_FILE", "")
_count = 0
_lock = threading.Lock()  # installs run in threads


def step() -> None:
    global _count
    if not (_limit or _hold):
        return
    with _lock:
        _count += 1
        count = _count
    if _hold and count == _hold and _hold_file:
        with open(_hold_file, "w") as f:
            f.write(str(os.getpid()))
        while os.path.exists(_hold_file):
            time.sleep(0.02)
    if _limit and count >= _limit:
        if _signal == signal.SIGINT:
            if count == _limit:
                os.kill(os.getpid(), signal.SIGINT)  # one Ctrl-C, as a user presses it
            return
        os.kill(os.getpid(), _signal)
