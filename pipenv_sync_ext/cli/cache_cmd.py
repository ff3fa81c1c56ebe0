"""``pipenv-sync cache info`` and ``cache prune``: inspect and prune the store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipenv_sync_ext.cli.output import run_command
from pipenv_sync_ext.fastpath.lockchoice import choose_lockfile
from pipenv_sync_ext.feedback import human_size
from pipenv_sync_ext.lock.choose import load_lock
from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.store.cas import Store, default_cache_dir

DEFAULT_MIN_AGE = 3600.0


def run_cache_info(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        from pipenv_sync_ext.store.pipconfig import http_cache_dirs

        store = Store(args.cache_dir or default_cache_dir(), warn)
        entries = list(store.entries())
        size = sum(e.size for e in entries)
        wheels = sum(1 for e in entries if e.artifact.is_wheel)
        leftovers = store.staging_leftovers()
        index = store.root / "v1" / "pip-cache-index.json"
        pip_caches = [str(d) for d in http_cache_dirs() if (d / "http-v2").is_dir() or (d / "http").is_dir()]
        data = {
            "path": str(store.root),
            "artifacts": len(entries),
            "wheels": wheels,
            "other": len(entries) - wheels,
            "size_bytes": size,
            "leftovers": len(leftovers),
            "pip_caches": pip_caches,
            "pip_cache_index": str(index) if index.is_file() else None,
        }
        lines = [
            f"Store: {store.root}",
            f"Artifacts: {len(entries)} ({wheels} wheel(s), {len(entries) - wheels} other), {human_size(size)}",
        ]
        if leftovers:
            lines.append(f"Staging/trash left by running or interrupted runs: {len(leftovers)} (prune clears them)")
        lines.append(f"pip HTTP caches read: {', '.join(pip_caches) or 'none found'}")
        if args.verbose:
            lines += [f"  {e.artifact.sha256[:16]}  {e.artifact.filename}  {human_size(e.size)}" for e in entries]
        return "\n".join(lines), data

    return run_command(args, body)


def run_cache_prune(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        keep: set[str] = set()
        for given in args.keep_lock:
            path = Path(choose_lockfile(str(given))[0]) if given.is_dir() else given
            lock = load_lock(path)
            for entries in lock.sections.values():
                for entry in entries:
                    if isinstance(entry, LockedPackage):
                        keep |= entry.hashes
        store = Store(args.cache_dir or default_cache_dir(), warn)
        result = store.prune(keep, max(0.0, args.min_age), dry_run=args.dry_run)
        freed = sum(e.size for e in result.removed)
        verb = "Would remove" if args.dry_run else "Removed"
        lines = [
            f"{verb} {len(result.removed)} artifact(s) ({human_size(freed)}) from {store.root}; "
            f"kept {result.kept} the given lock(s) allow"
            + (
                f" and {len(result.kept_recent)} used in the last {args.min_age:.0f} s (--min-age)"
                if result.kept_recent
                else ""
            )
        ]
        if args.verbose:
            lines += [f"  {e.artifact.filename}" for e in result.removed]
        data = {
            "path": str(store.root),
            "dry_run": args.dry_run,
            "removed": [
                {"filename": e.artifact.filename, "sha256": e.artifact.sha256, "size": e.size} for e in result.removed
            ],
            "freed_bytes": freed,
            "kept": result.kept,
            "kept_recent": len(result.kept_recent),
        }
        return "\n".join(lines), data

    return run_command(args, body)
