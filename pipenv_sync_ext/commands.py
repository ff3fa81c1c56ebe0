"""``pipenv-sync fetch`` and ``pipenv-sync cache``: fill the store (and a wheelhouse), inspect and prune it.

``cli.main`` hands over here when the first argument is ``fetch`` or ``cache``.

``fetch`` takes the same selection as a sync (``--dev``, ``--categories``,
``--all``) and places (``--find-links``, pip's configured find-links, pip's
HTTP cache, the lock's sources) and puts every artifact the selection needs in
the store: for the project's venv's interpreter (or the one a new venv would be
made with), or for a target described like ``pip download`` does
(``--python-version 3.12 --platform manylinux_2_28_x86_64 --implementation cp
--abi cp312``). ``--all-hashes`` takes every file the lock allows, for every
platform. ``--wheelhouse DIR`` copies the chosen artifacts to DIR with a static
PEP 503 index (:mod:`.wheelhouse`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .cli import add_source_arguments, guarded, printers
from .errors import EXIT_OK, EXIT_USAGE, LockError, SyncError
from .freshness import check_lock
from .lockfile import Lock, LockedPackage, OtherEntry, load_lock, select_sections
from .progress import human_size
from .store import LocalArtifact, Store, default_cache_dir
from .targetspec import Target, TargetSpecError

DEFAULT_MIN_AGE = 3600.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pipenv-sync", description="Fill, inspect and prune pipenv-sync's store.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fetch,cache}")

    f = sub.add_parser(
        "fetch",
        help="put every artifact the lock's selection needs in the store (and a wheelhouse)",
        description=(
            "Put every artifact the selected categories of Pipfile.lock need into the store: for the project's "
            "venv (or the interpreter a new one would get), or for the target --python-version/--platform/"
            "--implementation/--abi describe (as in pip download), with the lock's markers evaluated for it."
        ),
        epilog="Exit codes: 0 done, 1 error, 2 usage, 3 stale lock under --deploy, 4 missing artifacts.",
    )
    f.add_argument("-d", "--dev", action="store_true", help="also fetch [develop] (dev-packages)")
    f.add_argument("--categories", help="space/comma separated categories to fetch (instead of default)")
    f.add_argument("--all", dest="all_sections", action="store_true", help="fetch every category of the lock")
    f.add_argument("--project", type=Path, help="directory holding Pipfile and Pipfile.lock (default: pipenv's search)")
    f.add_argument("--venv", type=Path, help="fetch for this venv's interpreter (default: the project's venv)")
    f.add_argument("--python", help="without a venv: the interpreter a new venv would be made with (path or X.Y)")
    target = f.add_argument_group("explicit target (like pip download)")
    target.add_argument("--python-version", metavar="X.Y", help="e.g. 3.12 or 3.12.4 (default: the lock's)")
    target.add_argument(
        "--platform", action="append", default=[], metavar="TAG", help="e.g. manylinux_2_28_x86_64 (repeatable)"
    )
    target.add_argument("--implementation", metavar="IMPL", help="cp (default), pp, gp or py")
    target.add_argument("--abi", action="append", default=[], metavar="ABI", help="e.g. cp312 (repeatable)")
    f.add_argument(
        "--all-hashes", action="store_true", help="every file the lock allows, for every platform (markers ignored)"
    )
    f.add_argument("--wheelhouse", type=Path, metavar="DIR", help="also copy the artifacts to DIR, with DIR/simple/")
    _add_sources(f)
    f.add_argument("--offline", action="store_true", help="never open a network connection (local sources only)")
    f.add_argument("-j", "--jobs", type=int, default=8, metavar="N", help="parallel downloads (default 8)")
    f.add_argument("--deploy", action="store_true", help="fail when Pipfile.lock is out of date or has entries "
                   "this tool cannot fetch")  # fmt: skip
    _add_output(f)
    f.set_defaults(func=run_fetch)

    c = sub.add_parser("cache", help="inspect or prune the store", description="Inspect or prune the store.")
    csub = c.add_subparsers(dest="cache_command", required=True, metavar="{info,prune}")
    info = csub.add_parser("info", help="where the store is, its size and artifact count")
    info.add_argument("--cache-dir", type=Path, help="the store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/...)")
    _add_output(info)
    info.set_defaults(func=run_cache_info)
    prune = csub.add_parser(
        "prune",
        help="delete artifacts no given lock allows",
        description=(
            "Delete the store's artifacts that none of the given locks allows (every section of each lock "
            "counts) and that no sync used in the last --min-age seconds. Safe while other syncs run."
        ),
    )
    prune.add_argument(
        "--keep-lock",
        action="append",
        default=[],
        type=Path,
        required=True,
        metavar="LOCK",
        help="a Pipfile.lock (or a directory holding one) whose artifacts stay (repeatable)",
    )
    prune.add_argument(
        "--min-age",
        type=float,
        default=DEFAULT_MIN_AGE,
        metavar="SECONDS",
        help=f"spare artifacts used more recently than this (default {DEFAULT_MIN_AGE:.0f})",
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    prune.add_argument("--cache-dir", type=Path, help="the store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/...)")
    _add_output(prune)
    prune.set_defaults(func=run_cache_prune)
    return p


def _add_sources(p: argparse.ArgumentParser) -> None:
    add_source_arguments(p)
    p.add_argument("--cache-dir", type=Path, help="the store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/...)")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="list every artifact")


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if getattr(args, "jobs", 1) < 1:
        print("pipenv-sync: error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    code: int = args.func(args)
    return code


# --- output plumbing, as cli.run does it ------------------------------------------------------


def _run(args: argparse.Namespace, body: Any) -> int:
    warn, log = printers(args)

    def command() -> int:
        text, data = body(warn, log, args.quiet or args.json)
        if args.json:
            print(json.dumps(data, indent=2))
        elif not args.quiet:
            print(text)
        return EXIT_OK

    return guarded(args, command)


# --- fetch --------------------------------------------------------------------------------------


@dataclass
class _Fetched:
    lock: Lock
    sections: tuple[str, ...]
    target: str
    store: Store
    chosen: list[tuple[LockedPackage, LocalArtifact]]
    origins: dict[str, str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    others: list[OtherEntry] = field(default_factory=list)
    unlisted: dict[str, int] = field(default_factory=dict)
    wheelhouse: Any = None


def run_fetch(args: argparse.Namespace) -> int:
    started = time.perf_counter()

    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        fetched = fetch(args, warn, log, quiet)
        return _fetch_text(fetched, args.verbose), _fetch_json(fetched, time.perf_counter() - started)

    return _run(args, body)


def fetch(args: argparse.Namespace, warn: Any, log: Any, quiet: bool) -> _Fetched:
    from .artifacts import gather, gather_every_file
    from .cli import parse_categories
    from .fetch import IndexClient
    from .pipcache import PipCache
    from .pipconfig import find_links_dirs
    from .plan import make_plan
    from .progress import Progress
    from .project import find_project
    from .store import FindLinks
    from .sync import forbid_network

    explicit = bool(args.python_version or args.platform or args.abi or args.implementation)
    if args.all_hashes and (explicit or args.venv or args.python):
        raise TargetSpecError("--all-hashes fetches for every platform; it takes no target (--platform, --venv...)")
    if explicit and (args.venv or args.python):
        raise TargetSpecError("give either an explicit target (--python-version/--platform...) or --venv/--python")
    if args.offline:
        forbid_network()
    project = find_project(args.project)
    lock = load_lock(project.lockfile)
    # fetch stays quiet when there is no Pipfile: it only fills the store
    check_lock(project.pipfile if project.has_pipfile else None, lock.path, lock.pipfile_sha256, args.deploy, warn)
    categories = parse_categories(args.categories) or parse_categories(
        None if args.dev else os.environ.get("PIPENV_DEFAULT_CATEGORIES")
    )
    sections = select_sections(lock, dev=args.dev, categories=categories, all_sections=args.all_sections)
    for directory in args.find_links:
        if not directory.is_dir():
            raise SyncError(f"--find-links {directory}: no such directory")
    cache_dir = args.cache_dir or default_cache_dir()
    store = Store(cache_dir, warn)
    find_links = FindLinks(args.find_links, warn, configured=find_links_dirs())
    pip_cache = None if args.no_pip_cache else PipCache.default(cache_dir, warn)
    client = None if args.offline else IndexClient(lock.sources, log)
    live = sys.stderr if not quiet and sys.stderr.isatty() else None
    progress = Progress(log, live)
    entries = [entry for section in sections for entry in lock.sections[section]]
    origins: dict[str, str] = {}
    common = {"pip_cache": pip_cache, "progress": progress, "workers": args.jobs, "origins": origins}
    label = str(lock.path)

    if args.all_hashes:
        packages = [e for e in entries if isinstance(e, LockedPackage)]
        others = _unique_others(e for e in entries if isinstance(e, OtherEntry))
        _report_others(others, lock, args.deploy, warn)
        every = gather_every_file(packages, store, find_links, client, log, label, **common)
        chosen = every.artifacts
        for pin, n in every.unlisted.items():
            warn(f"{label}: {pin}: {n} of the files the lock allows are in no place and listed by no source")
        fetched = _Fetched(lock, sections, "every platform (--all-hashes)", store, chosen, origins, others=others)
        fetched.unlisted = every.unlisted
    else:
        target = _target(args, explicit, project, lock, cache_dir)
        plan = make_plan(entries, (), target.markers, prune=False, lock_label=label)
        others = [o.entry for o in plan.others]
        _report_others(others, lock, args.deploy, warn)
        packages = [step.package for step in plan.install]
        log(f"Fetching {len(packages)} package(s) for {target.description}")
        found = gather(packages, target.tag_rank, store, find_links, client, log, label, **common)
        skipped = [(s.entry.name, s.reason) for s in plan.skipped]
        chosen = [(p, found[p.name]) for p in packages]
        fetched = _Fetched(lock, sections, target.description, store, chosen, origins, skipped, others)

    if args.wheelhouse is not None:
        from .wheelhouse import export

        fetched.wheelhouse = export([a for _p, a in fetched.chosen], args.wheelhouse, warn)
    return fetched


def _target(args: argparse.Namespace, explicit: bool, project: Any, lock: Lock, cache_dir: Path) -> Target:
    from .interpreter import probe, venv_python
    from .project import locate_venv
    from .targetspec import explicit_target

    if explicit:
        version = args.python_version or lock.requires.get("python_full_version") or lock.requires.get("python_version")
        if not version:
            raise TargetSpecError("--python-version is needed: the lock's _meta.requires names no Python version")
        return explicit_target(version, args.platform, args.implementation or "cp", args.abi, lock.requires)
    venv = Path(os.path.abspath(args.venv or locate_venv(project)))
    if (venv / "pyvenv.cfg").is_file() and not args.python:
        interp = probe(venv_python(venv), cache_dir)
        where = f"the venv {venv}"
    elif args.venv is not None:
        raise SyncError(f"--venv {venv}: not a virtualenv (no pyvenv.cfg)")
    else:
        from .venv import find_python

        python = find_python(args.python, lock.requires)
        interp = probe(Path(python), cache_dir)
        where = python
    return Target(f"Python {interp.version} ({where})", interp.markers, interp.tags)


def _unique_others(others: Any) -> list[OtherEntry]:
    seen: dict[str, OtherEntry] = {}
    for o in others:
        seen.setdefault(o.name, o)
    return list(seen.values())


def _report_others(others: Sequence[OtherEntry], lock: Lock, deploy: bool, warn: Any) -> None:
    if not others:
        return
    names = "; ".join(f"[{e.category}] {e.name} ({e.kind}: {e.source})" for e in others)
    message = f"{lock.path}: not fetched (pipenv-sync installs only pinned, hashed index packages): {names}"
    if deploy:
        raise LockError(message + " (refused under --deploy)")
    warn(message)


_ORIGIN_TEXT = {
    "store": "already in the store",
    "find-links": "from --find-links",
    "pip-cache": "from pip's cache",
    "index": "downloaded",
}


def _fetch_text(f: _Fetched, verbose: bool) -> str:
    counts: dict[str, int] = {}
    size = 0
    for _p, a in f.chosen:
        origin = f.origins.get(a.artifact.sha256, "store")
        counts[origin] = counts.get(origin, 0) + 1
        size += _size(a)
    parts = [f"{counts[o]} {text}" for o, text in _ORIGIN_TEXT.items() if o in counts]
    names = {p.name for p, _a in f.chosen}
    lines = [
        f"Fetched {len(f.chosen)} artifact(s) for {len(names)} package(s) of [{', '.join(f.sections)}], "
        f"for {f.target}: {', '.join(parts) or 'nothing to do'} ({human_size(size)})",
        f"Store: {f.store.root}",
    ]
    if verbose:
        lines += [
            f"  {p.name}=={p.version}  {a.artifact.filename}  ({f.origins.get(a.artifact.sha256, 'store')})"
            for p, a in f.chosen
        ]
        lines += [f"  skipped {name}: {reason}" for name, reason in f.skipped]
    if f.wheelhouse is not None:
        w = f.wheelhouse
        lines.append(
            f"Wheelhouse {w.directory}: {w.files} file(s) of {w.projects} project(s) "
            f"({w.copied} copied, {w.present} already there); use it as --find-links {w.directory}, "
            f"or serve it and use <url>/simple/ as the index"
        )
    return "\n".join(lines)


def _size(a: LocalArtifact) -> int:
    try:
        return a.path.stat().st_size
    except OSError:
        return 0


def _fetch_json(f: _Fetched, elapsed: float) -> dict[str, Any]:
    w = f.wheelhouse
    return {
        "lock": str(f.lock.path),
        "categories": list(f.sections),
        "target": f.target,
        "store": str(f.store.root),
        "artifacts": [
            {
                "name": p.name,
                "version": p.version,
                "filename": a.artifact.filename,
                "sha256": a.artifact.sha256,
                "size": _size(a),
                "origin": f.origins.get(a.artifact.sha256, "store"),
            }
            for p, a in f.chosen
        ],
        "skipped": [{"name": n, "reason": r} for n, r in f.skipped],
        "other": [{"name": o.name, "kind": o.kind, "source": o.source} for o in f.others],
        "unlisted": f.unlisted,
        "wheelhouse": None
        if w is None
        else {
            "path": str(w.directory),
            "files": w.files,
            "projects": w.projects,
            "copied": w.copied,
            "present": w.present,
        },
        "elapsed_seconds": round(elapsed, 3),
    }


# --- cache info / prune ---------------------------------------------------------------------


def run_cache_info(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        from .pipconfig import http_cache_dirs

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

    return _run(args, body)


def run_cache_prune(args: argparse.Namespace) -> int:
    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        keep: set[str] = set()
        for given in args.keep_lock:
            path = given / "Pipfile.lock" if given.is_dir() else given
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

    return _run(args, body)
