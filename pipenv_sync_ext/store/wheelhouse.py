"""``fetch --wheelhouse DIR``: a portable directory of artifacts that is also a static site.

Layout::

    DIR/<file name>                    every artifact, flat: DIR works as --find-links (pip's and ours)
    DIR/index.html, DIR/simple/...     the pages of :mod:`pipenv_sync_ext.store.site`

so DIR served by any static file server (``python -m http.server``, nginx, an
object store) is a ``--find-links URL/`` page and an index URL
(``--index-url URL/simple/``) for this tool, pip and uv. Files are copied from
the store, hashed as they are written (a copy that does not match the lock's
sha256 is refused, never renamed into place), beside their final name and
renamed, so a reader never sees half a file; the pages are rewritten only after.
Artifacts already in DIR from an earlier fetch stay, and the pages list every
artifact in DIR, so one wheelhouse can serve several targets or locks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.store.artifact import safe_filename
from pipenv_sync_ext.store.cas import LocalArtifact, sha256_of
from pipenv_sync_ext.store.site import check_site, readable_mode, write_site


@dataclass(frozen=True)
class Wheelhouse:
    directory: Path
    copied: int  # files written now
    present: int  # files already there with the right content
    files: int  # artifacts the index lists
    projects: int


def export(artifacts: Iterable[LocalArtifact], directory: Path, warn: Callable[[str], None]) -> Wheelhouse:
    directory.mkdir(parents=True, exist_ok=True)
    check_site(directory)
    known: dict[str, str] = {}  # file name -> sha256, for files this run wrote or checked
    copied = present = 0
    for local in artifacts:
        name, digest = local.artifact.filename, local.artifact.sha256
        safe_filename(name, what=f"--wheelhouse {directory}: file name")  # before it becomes a path
        if known.get(name, digest) != digest:
            warn(f"{directory / name}: two artifacts of that name (sha256 {known[name][:12]}... and {digest[:12]}...); "
                 "the second is left out")  # fmt: skip
            continue
        target = directory / name
        # a symlink is replaced by a copy: the pages list regular files only (store/site.py)
        if not target.is_symlink() and target.is_file() and _sha256_or_none(target) == digest:
            present += 1
        else:
            _copy_atomic(local.path, target, digest)
            copied += 1
        known[name] = digest
    site = write_site(directory, known)
    if site.left_out:
        more = f" and {len(site.left_out) - 3} more" if len(site.left_out) > 3 else ""
        names = ", ".join(map(repr, site.left_out[:3]))
        warn(f"{directory}: not listed in its pages (not a valid project name): {names}{more}")
    return Wheelhouse(directory, copied, present, site.files, site.projects)


def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def _copy_atomic(source: Path, target: Path, digest: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        os.fchmod(fd, readable_mode())
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while chunk := src.read(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if hasher.hexdigest() != digest:  # the store's copy changed under us: never publish it
            raise FetchError(
                f"{source}: sha256 {hasher.hexdigest()} is not the {digest} the lock allows; not copied to {target}",
                hint="run `pipenv-sync cache prune` or `cache clean --yes`, then fetch again",
            )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
