"""``pipenv-sync export --pylock OUT``: a pylock.toml of the selection, installable with no network.

The files come from ``--wheelhouse DIR`` (what ``pipenv-sync fetch --wheelhouse
DIR`` wrote) or, without one, from the store; each is hashed (a wheelhouse
file) or was verified when stored, and only the sha256 the lock allows are
taken. A selected package with no file there is an error that names it and
says to run ``fetch`` first: the export is never silently incomplete. Entries
that are not hash-pinned index packages (editable, path, VCS, ``"*"``) cannot
be written as files and are refused likewise. See :mod:`~pipenv_sync_ext.lock.pylock_write`
for what makes the output byte-reproducible.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pipenv_sync_ext.cli.output import run_command
from pipenv_sync_ext.errors import LockError, MissingArtifactsError, UsageError
from pipenv_sync_ext.fastpath.identity import split_categories
from pipenv_sync_ext.fsutil import atomic_write
from pipenv_sync_ext.lock.choose import load_lock
from pipenv_sync_ext.lock.model import LockedPackage, OtherEntry
from pipenv_sync_ext.lock.pylock_write import LocalFile, merged, render
from pipenv_sync_ext.lock.selection import select
from pipenv_sync_ext.store.artifact import project_of
from pipenv_sync_ext.store.cas import Store, default_cache_dir, sha256_of
from pipenv_sync_ext.target.project import find_project


def add_export_parser(sub: Any) -> None:
    e = sub.add_parser(
        "export",
        help="write a pylock.toml of the lock's selection whose files are paths into a wheelhouse (or the store)",
        description="Write a PEP 751 pylock.toml for the selected categories; pip install -r and uv pip sync "
        "install it with no network. Byte-reproducible.",
    )
    e.add_argument("--pylock", type=Path, required=True, metavar="OUT", help="the pylock.toml to write")
    e.add_argument("-d", "--dev", action="store_true", help="also export [develop] (dev-packages)")
    e.add_argument("--categories", help="space/comma separated categories to export (instead of default)")
    e.add_argument("--all", dest="all_sections", action="store_true", help="export every Pipfile category")
    e.add_argument("--project", type=Path, help="directory holding Pipfile and Pipfile.lock (default: pipenv's search)")
    e.add_argument("--lockfile", type=Path, metavar="PATH", help="the lock to export (default: as a sync chooses)")
    e.add_argument(
        "--wheelhouse", type=Path, metavar="DIR", help="take the files from DIR (pipenv-sync fetch --wheelhouse)"
    )
    e.add_argument("--cache-dir", type=Path, help="the store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/...)")
    e.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    e.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    e.add_argument("-v", "--verbose", action="store_true", help="list every package")
    e.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        project = find_project(args.project, lockfile=args.lockfile)
        lock = load_lock(project.lockfile, warn=warn)
        pipfile = project.pipfile if project.has_pipfile else None
        categories = split_categories(args.categories)
        lock, sections = select(lock, pipfile, dev=args.dev, categories=categories, all_sections=args.all_sections)
        entries = [e for s in sections for e in lock.sections[s]]
        others = sorted({f"[{e.category}] {e.name} ({e.kind})" for e in entries if isinstance(e, OtherEntry)})
        if others:
            raise LockError(
                f"{lock.path}: cannot export {len(others)} entries as files",
                details=others,
                hint="export only index packages (pinned with hashes): select the categories that hold them",
            )
        packages = merged(e for e in entries if isinstance(e, LockedPackage))
        files = _files(packages, args.wheelhouse, Store(args.cache_dir or default_cache_dir(), warn))
        missing = [f"{p.name}=={p.version}" for p in packages if not files.get(p.name)]
        if missing:
            where = args.wheelhouse or "the store"
            raise MissingArtifactsError(
                f"{where}: no file the lock allows for {len(missing)} package(s)",
                details=missing,
                hint="run `pipenv-sync fetch` (with the same --wheelhouse) first",
            )
        out = Path(os.path.abspath(args.pylock))
        if os.path.lexists(out) and not (out.is_symlink() or out.is_file()):
            # a directory, a device (/dev/stdout), a fifo: never replaced by the rename
            raise UsageError(
                f"--pylock {out}: exists and is not a regular file; nothing was written",
                hint="give the path of the file to write (an existing pylock.toml there is replaced)",
            )
        python = lock.requires.get("python_full_version")
        requires_python = f"=={python}" if python else None
        atomic_write(out, render(packages, files, directory=out.parent, requires_python=requires_python), mode=0o644)
        text = f"Wrote {out}: {len(packages)} package(s) from {lock.path} [{', '.join(sections)}]"
        return text, {"pylock": str(out), "lock": str(lock.path), "sections": list(sections), "packages": len(packages)}

    return run_command(args, body)


def _files(packages: list[LockedPackage], wheelhouse: Path | None, store: Store) -> dict[str, list[LocalFile]]:
    found: dict[str, list[LocalFile]] = {}
    if wheelhouse is not None:
        by_name = {p.name: p for p in packages}
        for entry in sorted(os.scandir(wheelhouse), key=lambda e: e.name):
            parsed = project_of(entry.name)
            if parsed is None or parsed[0] not in by_name or not entry.is_file():
                continue
            digest = sha256_of(Path(entry.path))
            if digest in by_name[parsed[0]].hashes:
                local = LocalFile(entry.name, digest, entry.stat().st_size, Path(entry.path))
                found.setdefault(parsed[0], []).append(local)
        return found
    for p in packages:
        for digest in sorted(p.hashes):
            stored = store.get(digest)
            if stored is not None and store.verify(stored):
                size = stored.path.stat().st_size
                found.setdefault(p.name, []).append(LocalFile(stored.artifact.filename, digest, size, stored.path))
    return found
