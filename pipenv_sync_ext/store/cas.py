"""The content-addressed artifact store.

Layout (``v1`` is the format version)::

    <cache>/v1/artifacts/<hh>/<sha256>/<original file name>
    <cache>/v1/tmp/                      (staging for atomic inserts)
    <cache>/v1/trash/                    (artifacts being deleted by a prune)

An artifact's directory is created by renaming a fully written, fsynced
staging directory into place, so a reader sees a whole file or nothing. The
hash in the path is re-checked every time an artifact is used; a file whose
content no longer matches is evicted with a warning and never installed.

Each use also sets the mtime of the artifact's directory ("last used"). A prune
(:meth:`Store.prune`) deletes only artifacts that no kept lock allows *and* that
were not used recently, and deletes by renaming the directory into ``trash/``
first, then removing it. So a sync running at the same time is safe: what it
has chosen was just marked as used, a file it has open stays readable after
the rename and the unlink (POSIX), and an artifact that disappears before the
sync looks at it is simply not found (fetched again, or reported missing)
before the sync changes anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pipenv_sync_ext.confine import component
from pipenv_sync_ext.errors import UnsafePathError
from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.fsutil import sha256_stream
from pipenv_sync_ext.store.artifact import Artifact
from pipenv_sync_ext.store.wheeltags import tags_problem

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return sha256_stream(f)


def default_cache_dir() -> Path:
    env = os.environ.get("PIPENV_SYNC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "pipenv-sync"


@dataclass(frozen=True)
class LocalArtifact:
    artifact: Artifact
    path: Path
    # (canonical name, pinned version) of the lock entry this file was chosen for, set by gather:
    # preflight compares the wheel's own name and version with it. Not part of the file's identity.
    locked: tuple[str, str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StoredArtifact:
    """One artifact of the store as :meth:`Store.entries` lists it."""

    artifact: Artifact
    path: Path
    size: int
    last_used: float  # the artifact directory's mtime, set on each use


@dataclass(frozen=True)
class PruneResult:
    removed: tuple[StoredArtifact, ...]
    kept_recent: tuple[StoredArtifact, ...]  # no kept lock allows them, but used within the grace period
    kept: int  # allowed by a kept lock


class Store:
    def __init__(self, root: Path, warn: Say) -> None:
        self.root = root
        self._warn = warn
        self._artifacts = root / "v1" / "artifacts"
        self._tmp = root / "v1" / "tmp"
        self._trash = root / "v1" / "trash"

    def _dir(self, sha256: str) -> Path:
        return self._artifacts / sha256[:2] / sha256

    def get(self, sha256: str) -> LocalArtifact | None:
        """The stored file for ``sha256`` (not yet verified), if any."""
        try:
            names = [n for n in os.listdir(self._dir(sha256)) if not n.startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            return None
        if len(names) != 1:
            return None
        return LocalArtifact(Artifact(sha256, names[0]), self._dir(sha256) / names[0])

    def verify(self, local: LocalArtifact) -> bool:
        """Re-hash a stored file; evict it (with a warning) when it does not match."""
        try:
            actual = sha256_of(local.path)
        except OSError:
            return False
        if actual == local.artifact.sha256:
            self.touch(local.artifact.sha256)
            return True
        self._warn(
            f"{local.path}: content does not match its sha256 (got {actual[:12]}...); "
            "evicted from the store and not used"
        )
        self.evict(local.artifact.sha256)
        return False

    def evict(self, sha256: str) -> None:
        shutil.rmtree(self._dir(sha256), ignore_errors=True)

    def touch(self, sha256: str) -> None:
        """Mark an artifact as used now (a prune spares recently used artifacts)."""
        with contextlib.suppress(OSError):
            os.utime(self._dir(sha256))

    def staging_file(self, filename: str) -> tuple[Path, Path]:
        """A fresh staging directory and the path to write ``filename`` into (one safe file name).

        Callers with a name from outside (an index page) check it is a wheel or sdist name first
        (:func:`~pipenv_sync_ext.store.artifact.safe_filename`); here, whoever calls, it stays one component.
        """
        component(filename, what="file name to store")  # before anything is written
        self._tmp.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self._tmp, prefix="in-"))
        return staging, staging / filename

    def commit(self, staging: Path, sha256: str) -> LocalArtifact:
        """Move a staged, verified file into place (atomic; a concurrent twin wins harmlessly)."""
        target = self._dir(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if self.get(sha256) is None:
                raise
        found = self.get(sha256)
        assert found is not None
        return found

    def add_copy(self, source: Path, sha256: str) -> LocalArtifact:
        """Copy a verified file from elsewhere (a find-links dir) into the store."""
        existing = self.get(sha256)
        if existing is not None:
            return existing
        with source.open("rb") as src:
            return self.add_stream(src, filename=source.name, sha256=sha256, label=str(source))

    def add_stream(self, src: BinaryIO, *, filename: str, sha256: str, label: str) -> LocalArtifact:
        """Store what ``src`` holds as ``filename``; its content must hash to ``sha256``."""
        existing = self.get(sha256)
        if existing is not None:
            return existing
        staging, dest = self.staging_file(filename)
        try:
            with dest.open("wb") as out:
                h = hashlib.sha256()
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != sha256:
                raise OSError(f"{label} changed while it was being copied")
            if (wrong := tags_problem(dest, filename)) is not None:  # a name is kept for its tags: never a lie
                raise UnsafePathError(f"{label}: {wrong}; not used", hint="give the file its own wheel's name")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.commit(staging, sha256)

    def entries(self) -> Iterator[StoredArtifact]:
        """Every artifact in the store (not verified), in no particular order."""
        try:
            buckets = list(os.scandir(self._artifacts))
        except OSError:
            return
        for bucket in buckets:
            if not bucket.is_dir(follow_symlinks=False):
                continue
            try:
                dirs = list(os.scandir(bucket.path))
            except OSError:
                continue
            for d in dirs:
                local = self.get(d.name) if len(d.name) == 64 else None
                if local is None:
                    continue
                try:
                    size = local.path.stat().st_size
                    used = d.stat(follow_symlinks=False).st_mtime
                except OSError:
                    continue
                yield StoredArtifact(local.artifact, local.path, size, used)

    def staging_leftovers(self) -> list[Path]:
        """Staging and trash directories (of running or interrupted inserts and prunes)."""
        found: list[Path] = []
        for parent in (self._tmp, self._trash):
            with contextlib.suppress(OSError):
                found += [Path(e.path) for e in os.scandir(parent)]
        return found

    def prune(self, keep: Collection[str], min_age: float, *, dry_run: bool = False) -> PruneResult:
        """Delete artifacts whose sha256 is not in ``keep`` and that were not used for ``min_age`` seconds.

        Each is renamed into ``trash/`` (atomic: a reader finds the whole
        artifact or nothing) and only then removed. Staging and trash left by
        interrupted runs, older than ``min_age``, go too.
        """
        now = time.time()
        removed: list[StoredArtifact] = []
        recent: list[StoredArtifact] = []
        kept = 0
        for entry in self.entries():
            if entry.artifact.sha256 in keep:
                kept += 1
            elif now - entry.last_used < min_age:
                recent.append(entry)
            else:
                removed.append(entry)
                if not dry_run:
                    self._discard(self._dir(entry.artifact.sha256))
        if not dry_run:
            for leftover in self.staging_leftovers():
                with contextlib.suppress(OSError):
                    if now - leftover.stat().st_mtime >= min_age:
                        self._discard(leftover)
        return PruneResult(tuple(removed), tuple(recent), kept)

    def _discard(self, directory: Path) -> None:
        if directory.parent != self._trash:
            self._trash.mkdir(parents=True, exist_ok=True)
            holder = Path(tempfile.mkdtemp(dir=self._trash, prefix="del-"))
            try:
                os.rename(directory, holder / "x")
            except OSError:  # already gone (another prune got it first)
                with contextlib.suppress(OSError):
                    holder.rmdir()
                return
            directory = holder
        shutil.rmtree(directory, ignore_errors=True)
