"""One sync per venv at a time: an advisory file lock beside the venv.

``<cache>/locks/<sha256 of the venv's real path>.lock``: not inside the venv
(it may not exist yet, and a rebuild replaces the directory), and not beside
it (nothing outside the venv and the cache is written). A second sync of the same
venv says that it waits, then waits up to ``--lock-timeout`` seconds; syncs of
other venvs are not blocked, and the shared store is safe without a lock
(inserts are atomic renames of complete files). The lock is released by the
kernel when the process dies, so a killed sync never leaves it held.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipenv_sync_ext.errors import TargetError


def lock_path(venv: Path, cache_dir: Path) -> Path:
    key = hashlib.sha256(os.path.realpath(venv).encode()).hexdigest()
    return cache_dir / "locks" / f"{key}.lock"


@contextmanager
def holding(venv: Path, *, cache_dir: Path, timeout: float, log: Callable[[str], None]) -> Iterator[None]:
    path = lock_path(venv, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"Waiting for another pipenv-sync of {venv} to finish (up to {timeout:g}s)")
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TargetError(
                            f"{venv}: another pipenv-sync has held it for over {timeout:g}s ({path}); "
                            "try again, or raise --lock-timeout"
                        ) from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock
