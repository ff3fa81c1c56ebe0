"""Stage 5: the content-addressed artifact store, and read-only find-links dirs.

Layout (``v1`` is the format version)::

    <cache>/v1/artifacts/<hh>/<sha256>/<original file name>
    <cache>/v1/tmp/                      (staging for atomic inserts)

An artifact's directory is created by renaming a fully written, fsynced
staging directory into place, so a reader sees a whole file or nothing. The
hash in the path is re-checked every time an artifact is used; a file whose
content no longer matches is evicted with a warning and never installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .fsutil import sha256_stream
from .wheels import Artifact, project_of

_CHUNK = 1 << 20
Warn = Callable[[str], None]


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


class Store:
    def __init__(self, root: Path, warn: Warn) -> None:
        self.root = root
        self._warn = warn
        self._artifacts = root / "v1" / "artifacts"
        self._tmp = root / "v1" / "tmp"

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
            return True
        self._warn(
            f"{local.path}: content does not match its sha256 (got {actual[:12]}...); "
            "evicted from the store and not used"
        )
        self.evict(local.artifact.sha256)
        return False

    def evict(self, sha256: str) -> None:
        shutil.rmtree(self._dir(sha256), ignore_errors=True)

    def staging_file(self, filename: str) -> tuple[Path, Path]:
        """A fresh staging directory and the path to write ``filename`` into."""
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
        staging, dest = self.staging_file(source.name)
        try:
            with source.open("rb") as src, dest.open("wb") as out:
                h = hashlib.sha256()
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != sha256:
                raise OSError(f"{source} changed while it was being copied")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.commit(staging, sha256)


class FindLinks:
    """Read-only directories of artifacts, matched to the lock by sha256 only.

    A file is hashed only when its name says it belongs to a package being
    looked up, and at most once per run.
    """

    def __init__(self, dirs: Iterable[Path], warn: Warn) -> None:
        self._warn = warn
        self._by_project: dict[str, list[Path]] = {}
        self._hashes: dict[Path, str] = {}
        for d in dirs:
            for path in self._files(d):
                parsed = project_of(path.name)
                if parsed is not None:
                    self._by_project.setdefault(parsed[0], []).append(path)

    def _files(self, directory: Path) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            self._warn(f"{directory}: --find-links directory cannot be read: {exc.strerror}")
            return
        for entry in entries:
            if entry.is_file():
                yield Path(entry.path)

    def candidates(self, name: str, allowed: frozenset[str]) -> list[LocalArtifact]:
        found = []
        for path in self._by_project.get(name, []):
            digest = self._hashes.get(path)
            if digest is None:
                try:
                    digest = self._hashes[path] = sha256_of(path)
                except OSError:
                    continue
            if digest in allowed:
                found.append(LocalArtifact(Artifact(digest, path.name), path))
        return found
