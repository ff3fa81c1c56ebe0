"""One sync per venv at a time: an advisory lock on the venv directory itself.

Decision: the lock is ``flock`` on the venv's directory (its real path),
not a file keyed by the venv in the cache. Any two syncs of one venv then
exclude each other whatever their ``--cache-dir`` (a lock in the cache let two
syncs with different caches interleave and mix two versions of 30 packages),
and nothing is written for it: no lock file inside the venv or beside it.

* A venv that does not exist yet has no directory to lock: its creation holds
  the lock of the parent directory instead (so creations of venvs side by side
  take turns), and a sync that then finds the venv created takes the venv's.
* A rebuild replaces the directory: the sync locks the new one
  (:func:`adopt`) before it is swapped in, and a waiter that wakes up holding
  the lock of a directory that is no longer the venv (compared by device and
  inode) takes the new one's instead.
* ``--check`` and ``--dry-run`` take the lock shared, so they wait for a running
  sync instead of reporting its half-done state, and run alongside each other.
* Where a filesystem refuses ``flock`` on a directory (some network
  filesystems), the old lock file in the cache is the fallback:
  ``<cache>/locks/<sha256 of the venv's real path>.lock``.

Waiting is said once, then lasts up to ``--lock-timeout`` seconds. The kernel
releases the lock when the process dies, so a killed sync never leaves it held.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipenv_sync_ext.errors import TargetError

_adopted: list[int] = []  # locks taken on rebuilt directories, released with the venv's


def lock_path(venv: Path, cache_dir: Path) -> Path:
    key = hashlib.sha256(os.path.realpath(venv).encode()).hexdigest()
    return cache_dir / "locks" / f"{key}.lock"


@contextmanager
def holding(
    venv: Path, *, cache_dir: Path, timeout: float, log: Callable[[str], None], shared: bool = False
) -> Iterator[None]:
    """Hold the venv's lock (``shared``: alongside other readers, excluding a sync) for the block."""
    real = Path(os.path.realpath(venv))
    if real.exists() and not real.is_dir():
        yield  # not a directory: the pipeline refuses it with its own message
        return
    fd = _acquire(real, venv=venv, cache_dir=cache_dir, timeout=timeout, log=log, shared=shared)
    try:
        if not shared:
            # Held alone, no other sync builds beside the venv: what one left (killed while it
            # built, or while it deleted the old venv of a rebuild) is ours to remove.
            from pipenv_sync_ext.target.venv import clear_beside

            clear_beside(real)
        yield
    finally:
        os.close(fd)  # releases the lock
        while _adopted:
            os.close(_adopted.pop())


def adopt(directory: Path) -> None:
    """Lock ``directory`` (a rebuilt venv, not yet visible) so it is held once it is swapped in."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return  # nobody else can know this directory yet; without flock support, the cache lock holds
    _adopted.append(fd)


def _acquire(
    real: Path, *, venv: Path, cache_dir: Path, timeout: float, log: Callable[[str], None], shared: bool
) -> int:
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = time.monotonic() + timeout
    said = False
    while True:
        # A venv that does not exist yet is created under its parent's lock (see the docstring).
        target = real if real.is_dir() else real.parent
        if target == real.parent and not shared:
            target.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            fd = -1  # between a rebuild's two renames, or a --check of a venv under no directory yet
            if shared and target == real.parent:
                return os.open(os.devnull, os.O_RDONLY)  # nothing to read, nothing to wait for
        if fd >= 0:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                # Still the venv (not replaced by a rebuild), or still no venv under the parent.
                if _same(fd, target) and (target == real or not real.is_dir()):
                    return fd
                os.close(fd)
                continue
            except BlockingIOError:
                os.close(fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.ENOLCK, errno.EBADF, errno.EINVAL, errno.EOPNOTSUPP):
                    raise TargetError(f"{venv}: cannot lock it: {exc.strerror}") from None
                return _cache_lock(venv, cache_dir=cache_dir, mode=mode, timeout=timeout, log=log)
        if not said:
            log(f"Waiting for another pipenv-sync of {venv} to finish (up to {timeout:g}s)")
            said = True
        if time.monotonic() >= deadline:
            raise _busy(venv, timeout)
        time.sleep(0.05)


def _same(fd: int, path: Path) -> bool:
    try:
        now, held = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _cache_lock(venv: Path, *, cache_dir: Path, mode: int, timeout: float, log: Callable[[str], None]) -> int:
    deadline = time.monotonic() + timeout
    path = lock_path(venv, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    said = False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not said:
                log(f"Waiting for another pipenv-sync of {venv} to finish")
                said = True
            if time.monotonic() >= deadline:
                os.close(fd)
                raise _busy(venv, timeout) from None
            time.sleep(0.05)


def _busy(venv: Path, timeout: float) -> TargetError:
    return TargetError(
        f"{venv}: another pipenv-sync of it is running (waited {timeout:g}s)",
        hint="try again once it has finished, or wait longer with --lock-timeout SECONDS",
    )
