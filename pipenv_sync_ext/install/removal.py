"""Removing an installed distribution: only its own files, only inside the venv.

RECORD (or ``installed-files.txt``) says what a distribution owns. A removal is
planned first (:func:`plan_removal`, so the journal can list what it will
delete before the first file goes) and carried out by :func:`carry_out`, which
the next run's recovery also uses to complete one that was cut short.

A listed path is deleted only when it lies inside the venv both lexically and
after resolving the symlinks of its directory (a symlinked directory cannot
lead a removal outside), when it is not a symlink leading outside, and when no
distribution being kept or installed also claims it (shared namespace files,
drop-in replacements). Claims are compared by identity, not spelling: a path
is keyed by the real path of its directory plus its name (:class:`Claims`),
so a RECORD row through the venv's own ``lib64 -> lib`` link is the same file
as the kept package's ``lib/...`` row. A metadata directory that is itself a
symlink (to another distribution's, or anywhere) is never deleted through: the
link is removed, nothing behind it.

Directories it emptied go too. The metadata directory is removed last: a
removal cut short still shows the distribution as installed.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.confine import confine, is_within
from pipenv_sync_ext.errors import UnsafePathError
from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.fsutil import is_inside
from pipenv_sync_ext.install import failpoints
from pipenv_sync_ext.target.inventory import InstalledDist, record_paths


class Claims:
    """Files that must stay, compared by the real path of their directory and their name."""

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._dirs: dict[str, str] = {}
        self._keys = {self.key(p) for p in paths}

    def key(self, path: Path | str) -> str:
        parent, name = os.path.split(os.path.abspath(path))
        return os.path.join(self._real(parent), name)

    def _real(self, directory: str) -> str:
        """``os.path.realpath(directory)``, one ``lstat`` per directory not seen before: the
        directories of a venv share their parents, which ``realpath`` would walk again each time."""
        real = self._dirs.get(directory)
        if real is None:
            parent, name = os.path.split(directory)
            if not name or parent == directory:
                real = os.path.realpath(directory)
            else:
                joined = os.path.join(self._real(parent), name)
                real = os.path.realpath(joined) if os.path.islink(joined) else joined
            self._dirs[directory] = real
        return real

    def __contains__(self, path: object) -> bool:
        return isinstance(path, (str, Path)) and self.key(path) in self._keys


def claimed_files(dists: Iterable[InstalledDist]) -> Claims:
    paths: list[Path] = []
    for dist in dists:
        paths += record_paths(dist)
    return Claims(paths)


def claimed_among(dists: Iterable[InstalledDist], candidates: Iterable[Path | str]) -> Claims:
    """Which of ``candidates`` (the files a removal would delete) ``dists`` claim: the same answer as
    ``claimed_files(dists)`` for those paths, without a ``Path`` per line of every kept RECORD.

    A prune of 5 packages from a venv of 46 used to key ~8,000 kept paths (most of its time) to
    check a few hundred. Now a kept RECORD is read as strings, and a row is resolved only when its
    file name is the name of a candidate; a kept metadata directory claims a candidate under it by
    prefix (what walking it would find, without the walk).
    """
    claims = Claims()
    wanted = {claims.key(p) for p in candidates}
    if not wanted:
        return claims
    names = {os.path.basename(k) for k in wanted}
    found: set[str] = set()
    for dist in dists:
        base, rows = _listing(dist)
        for row in rows:
            name = row.rpartition("/")[2]
            if name in names or name in ("", ".", ".."):
                key = claims.key(os.path.normpath(os.path.join(base, row)))
                if key in wanted:
                    found.add(key)
        meta = str(dist.metadata_dir)
        if os.path.isdir(meta):
            inside = os.path.join(os.path.realpath(meta), "")
            found.update(k for k in wanted if k.startswith(inside))
        else:
            meta_key = claims.key(meta)
            if meta_key in wanted:
                found.add(meta_key)
    claims._keys = found
    return claims


def _listing(dist: InstalledDist) -> tuple[str, list[str]]:
    """The directory a distribution's file list is relative to, and its rows (as :func:`record_paths` reads them)."""
    if dist.is_egg_info:
        try:
            text = (dist.metadata_dir / "installed-files.txt").read_text(encoding="utf-8")
        except OSError:
            return str(dist.metadata_dir), []
        return str(dist.metadata_dir), [ln for ln in text.splitlines() if ln.strip()]
    try:
        with (dist.metadata_dir / "RECORD").open(encoding="utf-8", newline="") as f:
            return str(dist.site_dir), [row[0] for row in csv.reader(f) if row]
    except OSError:
        return str(dist.site_dir), []


@dataclass(frozen=True)
class RemovalPlan:
    """What removing one distribution deletes, in order: its files, then its metadata (its file list last)."""

    name: str
    metadata_dir: str
    site_dir: str
    files: tuple[str, ...]
    metadata_files: tuple[str, ...]


def plan_removal(dist: InstalledDist, *, venv: Path, keep: Claims, warn: Say) -> RemovalPlan:
    files: list[str] = []
    metadata_files: list[str] = []
    real_venv = Path(os.path.realpath(venv))
    linked_metadata = dist.metadata_dir.is_symlink()
    for path in record_paths(dist):
        if linked_metadata and is_inside(path, dist.metadata_dir):
            continue  # behind the link: someone else's, or outside; only the link itself goes
        if not _removable(path, venv, real_venv):
            warn(f"{dist.name}: RECORD lists {path}, outside the venv; not removed")
            continue
        if path in keep:
            continue
        (metadata_files if is_inside(path, dist.metadata_dir) else files).append(str(path))
    listing = {str(dist.metadata_dir / "RECORD"), str(dist.metadata_dir / "installed-files.txt")}
    metadata_files.sort(key=lambda p: p in listing)
    return RemovalPlan(dist.name, str(dist.metadata_dir), str(dist.site_dir), tuple(files), tuple(metadata_files))


def confined(path: str, root: Path, *, what: str = "recovery record") -> Path | None:
    """``path`` when it lies under ``root`` (as written or after resolving ``root``), checked by confine; else None."""
    for base in (os.path.abspath(root), os.path.realpath(root)):
        if os.path.isabs(path) and is_inside(Path(path), Path(base)) and os.path.normpath(path) != base:
            relative = os.path.relpath(os.path.normpath(path), base).replace(os.sep, "/")
            try:
                return confine(base, relative, what=what)
            except UnsafePathError:
                return None
    return None


def _removable(path: Path, venv: Path, real_venv: Path) -> bool:
    # The lexical check catches "..", the real-path check a symlinked directory on the way.
    return (
        is_inside(path, venv)
        and is_inside(Path(os.path.realpath(path.parent)), real_venv)
        and (not path.is_symlink() or is_within(path, real_venv))
    )


def carry_out(plan: RemovalPlan, *, venv: Path, keep: Claims | None = None) -> None:
    """Delete what ``plan`` lists (skipping anything ``keep`` claims now), then the metadata directory.

    Safe to repeat: what is already gone is skipped, so recovery calls it again
    for a removal that was cut short. Every path is checked against the venv again.
    """
    real_venv = Path(os.path.realpath(venv))
    touched: set[Path] = set()
    for name in plan.files:
        # A journal read back is data like any other: each path confined to the venv again.
        path = confined(name, venv, what=f"removal of {plan.name}")
        if path is None or not _removable(path, venv, real_venv) or (keep is not None and path in keep):
            continue
        _unlink(path, touched)
        if path.suffix == ".py":
            _drop_bytecode(path, touched)
    metadata_dir, site_dir = Path(plan.metadata_dir), Path(plan.site_dir)
    stop_at = {site_dir, venv}
    prune_empty_dirs(touched, stop_at)
    meta_dirs: set[Path] = set()
    if metadata_dir.is_symlink():
        # Only the link goes (wherever it points), so the distribution no longer shows as installed.
        if is_inside(metadata_dir, venv) and is_within(metadata_dir.parent, real_venv):
            _unlink(metadata_dir, meta_dirs)
        return
    if not _removable(metadata_dir, venv, real_venv):
        return
    for name in plan.metadata_files:
        path = confined(name, venv, what=f"removal of {plan.name}")
        if path is None or not is_inside(path, metadata_dir) or not _removable(path, venv, real_venv):
            continue
        if keep is None or path not in keep:
            _unlink(path, meta_dirs)
    if metadata_dir.is_dir():
        meta_dirs.add(metadata_dir)
    elif metadata_dir.exists():
        _unlink(metadata_dir, meta_dirs)  # an egg-info file
    prune_empty_dirs(meta_dirs, stop_at)


def remove_dist(dist: InstalledDist, *, venv: Path, keep: Claims, warn: Say) -> None:
    """Delete a distribution's files (RECORD order is irrelevant), then its metadata."""
    carry_out(plan_removal(dist, venv=venv, keep=keep, warn=warn), venv=venv)


def _unlink(path: Path, touched: set[Path]) -> None:
    failpoints.step()
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except (IsADirectoryError, PermissionError):
        # A directory where RECORD says a file is, or one we may not delete: left, and
        # the plan after recovery sees whatever remains.
        return
    touched.add(path.parent)


def _drop_bytecode(source: Path, touched: set[Path]) -> None:
    cache = source.parent / "__pycache__"
    try:
        names = os.listdir(cache)
    except OSError:
        return
    prefix = source.stem + "."
    for name in names:
        if name.startswith(prefix) and name.endswith(".pyc"):
            _unlink(cache / name, touched)


def prune_empty_dirs(dirs: set[Path], stop_at: set[Path]) -> None:
    """Remove each directory if empty, and its parents up to ``stop_at`` while they are."""
    # Deepest first, so a parent emptied by its child's removal goes too.
    for directory in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        current = directory
        while current not in stop_at and any(is_inside(current, s) for s in stop_at):
            try:
                current.rmdir()
            except OSError:
                break
            current = current.parent
