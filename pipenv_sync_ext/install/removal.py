"""Removing an installed distribution: only its own files, only inside the venv.

RECORD (or ``installed-files.txt``) says what a distribution owns. A listed
path is deleted only when it lies inside the venv both lexically and after
resolving the symlinks of its directory (a symlinked directory cannot lead a
removal outside), when it is not a symlink leading outside, and when no
distribution being kept or installed also claims it (shared namespace files,
drop-in replacements). Directories it emptied go too. The metadata directory is
removed last: a removal cut short still shows the distribution as installed,
so the next sync sees it and finishes the job.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.fsutil import is_inside
from pipenv_sync_ext.install import failpoints
from pipenv_sync_ext.target.inventory import InstalledDist, record_paths


def claimed_files(dists: Iterable[InstalledDist]) -> set[Path]:
    claimed: set[Path] = set()
    for dist in dists:
        claimed.update(record_paths(dist))
    return claimed


def remove_dist(dist: InstalledDist, *, venv: Path, keep: set[Path], warn: Say) -> None:
    """Delete a distribution's files (RECORD order is irrelevant), then its metadata."""
    touched_dirs: set[Path] = set()
    metadata_files: list[Path] = []
    real_venv = Path(os.path.realpath(venv))
    for path in record_paths(dist):
        # The lexical check catches "..", the real-path check a symlinked directory on the way.
        if (
            not is_inside(path, venv)
            or not is_inside(Path(os.path.realpath(path.parent)), real_venv)
            or (path.is_symlink() and not is_inside(Path(os.path.realpath(path)), real_venv))
        ):
            warn(f"{dist.name}: RECORD lists {path}, outside the venv; not removed")
            continue
        if path in keep:
            continue
        if is_inside(path, dist.metadata_dir):
            metadata_files.append(path)
            continue
        _unlink(path, touched_dirs)
        if path.suffix == ".py":
            _drop_bytecode(path, touched_dirs)
    # The metadata goes last, and its file list (RECORD, installed-files.txt) last of
    # all, after the emptied directories: a removal cut short at any point still
    # shows the dist as installed with its full list, so the next sync finishes it.
    stop_at = {dist.site_dir, venv}
    prune_empty_dirs(touched_dirs, stop_at)
    listing = {dist.metadata_dir / "RECORD", dist.metadata_dir / "installed-files.txt"}
    metadata_files.sort(key=lambda p: p in listing)
    meta_dirs: set[Path] = set()
    for path in metadata_files:
        _unlink(path, meta_dirs)
    if dist.metadata_dir.is_dir():
        meta_dirs.add(dist.metadata_dir)
    elif dist.metadata_dir.exists():
        _unlink(dist.metadata_dir, meta_dirs)
    prune_empty_dirs(meta_dirs, stop_at)


def _unlink(path: Path, touched: set[Path]) -> None:
    failpoints.step()
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except IsADirectoryError:
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
