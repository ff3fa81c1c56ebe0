"""Small filesystem primitives shared by the store and the executor."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    The file is private (0600, as ``mkstemp`` makes it) unless ``mode`` says otherwise:
    a file meant to be shared (an exported lock) passes 0o644.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(Path(tmp))
        raise


def read_private(path: Path | str, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of ``path``, a cache entry whose answer is used without being
    re-derived (a compiled lock, an interpreter probe): OSError unless it is a regular file (not
    a symlink) owned by this user and writable by no one else. Such entries are written 0600 by
    :func:`atomic_write`; one another user could write or plant (a shared or world-writable cache
    directory) is a miss, computed again, never trusted."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise PermissionError(errno.EPERM, "not a private file of this user", str(path))
        return f.read(limit + 1)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def is_inside(path: Path, root: Path) -> bool:
    """True when ``path`` (normalised, symlinks not followed) lies under ``root``."""
    p = os.path.normpath(os.path.abspath(path))
    r = os.path.normpath(os.path.abspath(root))
    return p == r or p.startswith(r.rstrip(os.sep) + os.sep)


def current_umask() -> int:
    """The process umask, read without setting it (Linux 4.7+) when possible: ``os.umask`` can only
    be read by setting it, which for a moment changes it for every thread of the process."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sha256_stream(f: BinaryIO) -> str:
    h = hashlib.sha256()
    while chunk := f.read(1 << 20):
        h.update(chunk)
    return h.hexdigest()


# Errors of this machine, not of the network: a full disk, a read-only or foreign-owned
# directory, too many open files. Retrying them only fills the disk again.
_LOCAL_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EMFILE", "ENFILE", "ENAMETOOLONG", "EFBIG", "EIO")
    if hasattr(errno, name)
)


def local_failure(exc: BaseException, *, what: str, where: str = "the cache directory (--cache-dir)") -> str | None:
    """A one-line message for a local OSError (naming the path, the errno's text and what to do), else None.

    Network errors are OSErrors too (``URLError``, resets, timeouts, TLS): those are not local.
    """
    import ssl
    import urllib.error

    if not isinstance(exc, OSError) or exc.errno not in _LOCAL_ERRNOS:
        return None
    if isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError)):
        return None
    place = exc.filename or where
    text = exc.strerror or os.strerror(exc.errno or 0)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = f"free space on the filesystem holding {place} and run again"
    elif exc.errno in (errno.EMFILE, errno.ENFILE):
        hint = "close other programs' files or raise the open-file limit (ulimit -n), then run again"
    else:
        hint = f"make {place} writable and run again"
    return f"{what}: {text} ({place}); {hint}"
