"""What is where in the store, by kind; and pruning an artifact together with what was made from it.

Every byte under the store belongs to one kind (:data:`KINDS`; anything this
version does not know of is ``other``). Sizes are counted as ``du -sb``
counts them, so ``cache info`` and ``du`` agree: the apparent size (``lstat``)
of every file, directory and symlink, a hard-linked inode once.

Derived data is keyed by the artifact it came from: an unpacked tree
(``v1/unpacked/<sha256>``) by the wheel's sha256, a built wheel
(``v1/built/<sdist sha256>/<tag>/``) by the sdist's, and the built wheel's own
unpacked tree by the built wheel's sha256 (its ``.sha256`` sidecar). So a prune
that removes an artifact removes its tree and its built wheels (and their
trees) too, and a tree or built wheel whose artifact is no longer in the store
(an orphan, say left by an older prune) goes once it is older than
``min_age``, like an unused artifact. A tree is spared while its artifact stays:
a sync that uses the tree has just verified (and so touched) the artifact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.store import unpacked
from pipenv_sync_ext.store.cas import PruneResult, Store


@dataclass(frozen=True)
class Kind:
    name: str
    relative: str  # under the store's root
    description: str


KINDS = (
    Kind("artifacts", "v1/artifacts", "downloaded or copied files, by sha256"),
    Kind("unpacked", "v1/unpacked", "wheels unpacked once, linked into venvs"),
    Kind("built", "v1/built", "wheels built from sdists"),
    Kind("build-requires", "v1/build-requires", "records of build requirements"),
    Kind("indexes", "v1/pip-cache-index.json", "what pip's HTTP cache holds"),
    Kind("staging", "v1/tmp", "inserts and deletions under way or interrupted"),
    Kind("trash", "v1/trash", "artifacts a prune is deleting"),
    Kind("probes", "probes", "interpreters' tags and markers"),
    Kind("status", "v1/status", "what the indexes last said of each project (yanked, quarantined)"),
    Kind("locks", "locks", "venv lock files, where a directory cannot be locked itself"),
)
OTHER = Kind("other", "", "anything else (and the store's own directories)")


@dataclass(frozen=True)
class KindUsage:
    kind: Kind
    files: int  # regular files and symlinks
    bytes: int


@dataclass(frozen=True)
class Usage:
    root: Path
    kinds: tuple[KindUsage, ...]  # every kind of KINDS, then OTHER

    @property
    def total_bytes(self) -> int:
        return sum(k.bytes for k in self.kinds)

    def of(self, name: str) -> KindUsage:
        return next(k for k in self.kinds if k.kind.name == name)


class _Counter:
    """``du -b``'s arithmetic: apparent sizes, every inode once."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, int]] = set()

    def walk(self, path: Path) -> tuple[int, int]:
        """(files, bytes) of ``path`` and everything under it; nothing when it is missing."""
        files = size = 0
        stack = [str(path)]
        while stack:
            current = stack.pop()
            try:
                st = os.lstat(current)
            except OSError:
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in self.seen:
                    continue
                self.seen.add((st.st_dev, st.st_ino))
            size += st.st_size
            if stat.S_ISDIR(st.st_mode):
                with contextlib.suppress(OSError):
                    stack += [e.path for e in os.scandir(current)]
            else:
                files += 1
        return files, size


def usage(root: Path) -> Usage:
    """Files and bytes under ``root``, by kind; the kinds add up to all of it."""
    counter = _Counter()
    known = {(root / k.relative) for k in KINDS}
    found = []
    for kind in KINDS:
        files, size = counter.walk(root / kind.relative)
        found.append(KindUsage(kind, files, size))
    files = size = 0
    for path in _others(root, known):
        f, s = counter.walk(path) if path not in (root, root / "v1") else _one(path)
        files, size = files + f, size + s
    return Usage(root, (*found, KindUsage(OTHER, files, size)))


def _one(directory: Path) -> tuple[int, int]:
    try:
        return 0, os.lstat(directory).st_size
    except OSError:
        return 0, 0


def _others(root: Path, known: set[Path]) -> Iterator[Path]:
    """The store's own directories and whatever is beside the known kinds."""
    for directory in (root, root / "v1"):
        if not directory.is_dir() or directory.is_symlink():
            continue
        yield directory
        with contextlib.suppress(OSError):
            for entry in os.scandir(directory):
                path = Path(entry.path)
                if path not in known and path != root / "v1":
                    yield path


@dataclass(frozen=True)
class Derived:
    """A tree or a built wheel a prune removed (or would remove)."""

    kind: str  # "unpacked" or "built"
    path: Path
    bytes: int


@dataclass(frozen=True)
class StorePrune:
    artifacts: PruneResult
    derived: tuple[Derived, ...]

    @property
    def freed_bytes(self) -> int:
        return sum(e.size for e in self.artifacts.removed) + sum(d.bytes for d in self.derived)


def prune(store: Store, keep: Collection[str], *, min_age: float, dry_run: bool) -> StorePrune:
    """:meth:`Store.prune`, then the unpacked trees and built wheels of what it removed, and orphans."""
    root = store.root
    result = store.prune(keep, min_age, dry_run=dry_run)
    gone = {e.artifact.sha256 for e in result.removed}
    present = {e.artifact.sha256 for e in store.entries()} - gone
    now = time.time()
    counter = _Counter()
    derived: list[Derived] = []

    def stale(path: Path) -> bool:
        try:
            return now - path.stat().st_mtime >= min_age
        except OSError:
            return False

    built_root = root / "v1" / "built"
    kept_built: set[str] = set()  # sha256s of the built wheels that stay: their trees stay too
    dropped_built: set[str] = set()
    for sdist in _subdirs(built_root):
        wheels = _built_wheel_hashes(sdist)
        if sdist.name in present or (sdist.name not in gone and not stale(sdist)):
            kept_built |= wheels
            continue
        dropped_built |= wheels
        derived.append(Derived("built", sdist, counter.walk(sdist)[1]))
        if not dry_run:
            _remove(sdist, root / "v1" / "tmp")

    for tree in _subdirs(unpacked.unpacked_root(root)):
        sha = tree.name
        if sha in present or sha in kept_built:
            continue
        if sha in gone or sha in dropped_built or stale(tree):
            derived.append(Derived("unpacked", tree, counter.walk(tree)[1]))
            if not dry_run:
                unpacked.discard(root, sha)
    return StorePrune(result, tuple(derived))


def _subdirs(directory: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(directory) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _built_wheel_hashes(sdist_dir: Path) -> set[str]:
    found = set()
    for tag_dir in _subdirs(sdist_dir):
        with contextlib.suppress(OSError):
            for sidecar in tag_dir.glob("*.whl.sha256"):
                found.add(sidecar.read_text(encoding="ascii").strip())
    return found


def _remove(directory: Path, tmp: Path) -> None:
    """Renamed out of the way first (a reader sees all of it or nothing), then deleted."""
    tmp.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(dir=tmp, prefix="built-del-"))
    with contextlib.suppress(OSError):
        os.rename(directory, holder / "x")
    shutil.rmtree(holder, ignore_errors=True)


def clean(root: Path) -> Usage:
    """Delete everything in the store but ``locks/``; returns what was there.

    The lock files stay (a few bytes each): one that a sync holds now would
    otherwise be replaced by a new file, and a second sync of the same venv
    would not wait for the first.
    """
    before = usage(root)
    for entry in _subdirs(root) + _files(root):
        if entry.name == "locks":
            continue
        if entry.is_dir() and not entry.is_symlink():
            holder = Path(tempfile.mkdtemp(dir=root, prefix=".clean-"))
            with contextlib.suppress(OSError):
                os.rename(entry, holder / "x")
            shutil.rmtree(holder, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    return before


def _files(directory: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(directory) if not e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
