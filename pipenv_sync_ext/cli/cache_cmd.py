"""``pipenv-sync cache info | prune | dir | clean``: the store's size by kind, and dropping what no lock needs.

``prune`` without ``--keep-lock`` keeps what the current project's lock allows
(the project found as a sync finds it). There is no registry of the projects
that share a store, so more projects are kept by naming their locks
(``--keep-lock`` is repeatable); outside a project without one, ``prune`` is a
usage error rather than a guess.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipenv_sync_ext.cli.output import emit, run_command
from pipenv_sync_ext.errors import SyncError, UsageError
from pipenv_sync_ext.fastpath.lockchoice import choose_lockfile
from pipenv_sync_ext.feedback import human_size
from pipenv_sync_ext.lock.choose import load_lock
from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.redact import redact
from pipenv_sync_ext.store import layout
from pipenv_sync_ext.store.cas import Store, default_cache_dir

DEFAULT_MIN_AGE = 3600.0


def _root(args: argparse.Namespace) -> Path:
    return Path(args.cache_dir or default_cache_dir())


def run_cache_dir(args: argparse.Namespace) -> int:
    emit(str(_root(args)))
    return 0


def run_cache_info(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        from pipenv_sync_ext.store.pipconfig import http_cache_dirs

        store = Store(_root(args), warn)
        entries = list(store.entries())
        wheels = sum(1 for e in entries if e.artifact.is_wheel)
        use = layout.usage(store.root)
        leftovers = store.staging_leftovers()
        index = store.root / "v1" / "pip-cache-index.json"
        pip_caches = [str(d) for d in http_cache_dirs() if (d / "http-v2").is_dir() or (d / "http").is_dir()]
        data = {
            "path": str(store.root),
            "artifacts": len(entries),
            "wheels": wheels,
            "other": len(entries) - wheels,
            "size_bytes": use.total_bytes,
            "artifact_bytes": sum(e.size for e in entries),
            "kinds": {
                k.kind.name: {"files": k.files, "bytes": k.bytes, "path": str(store.root / k.kind.relative)}
                for k in use.kinds
            },
            "leftovers": len(leftovers),
            "pip_caches": pip_caches,
            "pip_cache_index": str(index) if index.is_file() else None,
        }
        lines = [
            f"Store: {store.root}",
            f"Size: {human_size(use.total_bytes)}; artifacts: {len(entries)} "
            f"({wheels} wheel(s), {len(entries) - wheels} other)",
        ]
        width = max(len(k.kind.name) for k in use.kinds)
        for k in use.kinds:
            if k.bytes or k.kind.name in ("artifacts", "unpacked"):
                lines.append(
                    f"  {k.kind.name:<{width}}  {human_size(k.bytes):>9}  {k.files:>6} file(s)  {k.kind.description}"
                )
        if leftovers:
            lines.append(f"Staging/trash left by running or interrupted runs: {len(leftovers)} (prune clears them)")
        lines.append(f"pip HTTP caches read: {', '.join(pip_caches) or 'none found'}")
        if args.verbose:
            lines += [f"  {e.artifact.sha256[:16]}  {e.artifact.filename}  {human_size(e.size)}" for e in entries]
        return "\n".join(lines), data

    return run_command(args, body)


def _kept_locks(args: argparse.Namespace) -> list[Path]:
    if args.keep_lock:
        # a directory: its lock as a sync there would choose it (Pipfile.lock, else pylock.toml)
        return [Path(choose_lockfile(str(given))[0]) if given.is_dir() else given for given in args.keep_lock]
    from pipenv_sync_ext.target.project import find_project

    project = find_project(args.project)
    if not project.lockfile.is_file():
        raise UsageError(
            f"cache prune: no {project.lockfile.name} to keep in {project.directory}",
            hint="run it in a project, or pass --keep-lock LOCK (repeatable)",
        )
    return [project.lockfile]


def run_cache_prune(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        locks = _kept_locks(args)
        keep: set[str] = set()
        for path in locks:
            for entries in load_lock(path).sections.values():
                for entry in entries:
                    if isinstance(entry, LockedPackage):
                        keep |= entry.hashes
        store = Store(_root(args), warn)
        pruned = layout.prune(store, keep, min_age=max(0.0, args.min_age), dry_run=args.dry_run)
        result = pruned.artifacts
        trees = [d for d in pruned.derived if d.kind == "unpacked"]
        built = [d for d in pruned.derived if d.kind == "built"]
        verb = "Would remove" if args.dry_run else "Removed"
        lines = [
            f"{verb} {len(result.removed)} artifact(s), {len(trees)} unpacked tree(s) and {len(built)} built "
            f"wheel(s) ({human_size(pruned.freed_bytes)}) from {store.root}; "
            f"kept {result.kept} artifact(s) {_kept_by(locks)} allows"
            + (
                f" and {len(result.kept_recent)} used in the last {args.min_age:.0f} s (--min-age)"
                if result.kept_recent
                else ""
            )
        ]
        if args.verbose:
            lines += [f"  {e.artifact.filename}" for e in result.removed]
            lines += [f"  {d.kind}: {d.path}" for d in pruned.derived]
        data = {
            "path": str(store.root),
            "dry_run": args.dry_run,
            "kept_locks": [str(p) for p in locks],
            "removed": [
                {"filename": e.artifact.filename, "sha256": e.artifact.sha256, "size": e.size} for e in result.removed
            ],
            "removed_derived": [{"kind": d.kind, "path": str(d.path), "size": d.bytes} for d in pruned.derived],
            "freed_bytes": pruned.freed_bytes,
            "kept": result.kept,
            "kept_recent": len(result.kept_recent),
        }
        return "\n".join(lines), data

    return run_command(args, body)


def _kept_by(locks: list[Path]) -> str:
    return f"the lock {locks[0]}" if len(locks) == 1 else f"one of {len(locks)} locks"


def run_cache_clean(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        root = _root(args)
        if not args.yes:
            _confirm(root)
        before = layout.clean(root)
        text = f"Removed everything in {root} ({human_size(before.total_bytes)}); lock files of venvs kept"
        return text, {"path": str(root), "freed_bytes": before.total_bytes}

    return run_command(args, body)


def _confirm(root: Path) -> None:
    """Ask on a terminal; anywhere else the answer must be given as ``--yes``."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise UsageError(f"cache clean: would remove everything in {root}; hint: add --yes to confirm")
    size = human_size(layout.usage(root).total_bytes)
    sys.stderr.write(redact(f"Remove everything in {root} ({size})? [y/N] "))
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise SyncError("cache clean: not confirmed; nothing removed")
