"""How files get from an unpacked tree into the venv: clone (reflink), hard link or copy.

Modes (``--link-mode``): ``hardlink``: files share their inode with the store
(uv's default on Linux too). ``clone``: a reflink (``ioctl FICLONE``), a
separate inode sharing blocks copy-on-write (btrfs, XFS, bcachefs...), else a
copy. ``copy``: ``copy_file_range``. ``auto`` (the default) clones where the
filesystem can, else hard-links on the same filesystem, else copies.
(``installer``, the zip-based reference, is :mod:`.wheelinstall`.)

Never let an edit of an installed file reach the cache
    Only a hard link shares bytes with the store, and only with a read-only
    file. Nothing this tool does writes into an installed file: an install over
    an existing file links or copies to a new name and renames it over (the
    ``installer`` path unlinks first, too), removals and ``--repair`` unlink.
    What remains is a user (or root, whom 0o444 does not stop) editing a
    hard-linked file in place: the edit is in the store's inode, and in every
    venv that links it. It is caught three ways: ``--verify`` reports the file
    as modified (RECORD hash); the next use of the tree sees its mtime changed
    and rebuilds it before linking anything from it; ``--repair`` hashes the
    tree, rebuilds it from the zip, and replaces the venv's file (unlink, then
    link from the new tree). Use ``--link-mode clone`` or ``copy`` where
    installed files are meant to be edited.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading

from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.fsutil import current_umask

MODES = ("auto", "clone", "hardlink", "copy", "installer")
_FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
NEW_SUFFIX = ".pipenv-sync-new"  # a file installed over an existing one is made under this suffix, then renamed over
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF, errno.EPERM}
_NO_LINK = {errno.EXDEV, errno.EMLINK, errno.EPERM, errno.EOPNOTSUPP, errno.EACCES}


class Linker:
    """How files get from a tree into the venv: one mode per sync, lowered (clone -> its fallback) on first refusal."""

    def __init__(self, requested: str, same_device: bool, warn: Say) -> None:
        if requested not in MODES or requested == "installer":
            raise ValueError(f"not a link mode: {requested!r}")
        self.requested = requested
        self._warn = warn
        self._warned = False
        self._lock = threading.Lock()
        if requested == "copy":
            self.mode = self.fallback = "copy"
        elif requested == "hardlink":
            self.mode = self.fallback = "hardlink" if same_device else "copy"
            if not same_device:
                self._say("--link-mode hardlink: the cache and the venv are on different filesystems; copying")
        else:  # clone, auto
            self.mode = "clone" if same_device else "copy"
            self.fallback = "hardlink" if requested == "auto" and same_device else "copy"
        umask = current_umask()  # once, before the pool starts: pip's modes for executables and launchers
        self.exec_mode = (0o777 & ~umask) | 0o111  # a member with an x bit (pip: "default mode plus executable")
        self.script_mode = (0o666 & ~umask) | 0o555  # a launcher (distlib's set_executable_mode)

    def _say(self, message: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self._warn(message)

    def _lower(self) -> None:
        if self.mode == "clone":
            self.mode = self.fallback
            if self.requested == "clone":
                self._say("--link-mode clone: the filesystem cannot clone (reflink) files; copying")

    def place(self, src: str, dst: str, executable: bool, existed: bool, *, copy: bool = False) -> None:
        """Put ``src`` at ``dst`` (a copy when ``copy``); an existing ``dst`` is replaced (renamed over), never
        written into: it may be a hard link into the store."""
        create = self._copy if copy else self._create
        if existed:
            target = dst + NEW_SUFFIX
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            create(src, target, executable)
            os.replace(target, dst)
            return
        try:
            create(src, dst, executable)
        except FileExistsError:  # appeared since it was looked at: replace it all the same
            os.unlink(dst)
            create(src, dst, executable)

    def _copy(self, src: str, dst: str, executable: bool) -> None:
        copy_file(src, dst, executable=executable, exec_mode=self.exec_mode)

    def _create(self, src: str, dst: str, executable: bool) -> None:
        if self.mode == "clone":
            if _clone(src, dst, executable, self.exec_mode):
                return
            self._lower()
        if self.mode == "hardlink":
            try:
                os.link(src, dst)
                return
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                # EMLINK (the store's file has too many links), EXDEV, EPERM: this file is copied
        copy_file(src, dst, executable=executable, exec_mode=self.exec_mode)

    def write(self, dst: str, data: bytes, mode: int | None, existed: bool) -> None:
        """A new file with ``data`` (``mode`` when given, else the umask's default)."""
        target = dst + NEW_SUFFIX if existed else dst
        if existed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            os.unlink(target)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        if existed:
            os.replace(target, dst)


def _clone(src: str, dst: str, executable: bool, exec_mode: int) -> bool:
    """Reflink ``src`` to a new ``dst``; False (and no ``dst``) when the filesystem cannot."""
    import fcntl

    sfd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o777 if executable else 0o666)
        try:
            try:
                fcntl.ioctl(dfd, _FICLONE, sfd)
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
                os.close(dfd)
                dfd = -1
                os.unlink(dst)
                return False
            if executable:
                os.fchmod(dfd, exec_mode)
        finally:
            if dfd >= 0:
                os.close(dfd)
    finally:
        os.close(sfd)
    return True


_copy_file_range = getattr(os, "copy_file_range", None)


def copy_file(src: str, dst: str, *, executable: bool, exec_mode: int) -> None:
    """Copy ``src`` to a new file ``dst`` in the kernel where it can (``copy_file_range``)."""
    global _copy_file_range
    sfd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o777 if executable else 0o666)
        try:
            copied = False
            if _copy_file_range is not None:
                try:
                    while _copy_file_range(sfd, dfd, 1 << 30):
                        pass
                    copied = True
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                        raise
                    _copy_file_range = None
                    os.lseek(sfd, 0, os.SEEK_SET)
                    os.lseek(dfd, 0, os.SEEK_SET)
                    os.ftruncate(dfd, 0)
            if not copied:
                while chunk := os.read(sfd, 1 << 20):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(dfd, view) :]
            if executable:
                os.fchmod(dfd, exec_mode)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
