"""``pipenv-sync fetch``: the command line and the report of :mod:`pipenv_sync_ext.pipeline.fetch`."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from pipenv_sync_ext.cli.arguments import pypi_mirror, source_options
from pipenv_sync_ext.cli.output import run_command
from pipenv_sync_ext.cli.progress import for_command
from pipenv_sync_ext.fastpath.identity import split_categories
from pipenv_sync_ext.feedback import human_size
from pipenv_sync_ext.pipeline.fetch import Fetched, FetchOptions, fetch
from pipenv_sync_ext.store.cas import LocalArtifact


def fetch_options(args: argparse.Namespace) -> FetchOptions:
    categories = split_categories(args.categories) or split_categories(
        None if args.dev else os.environ.get("PIPENV_DEFAULT_CATEGORIES")
    )
    return FetchOptions(
        project=args.project,
        dev=bool(args.dev),
        categories=tuple(categories),
        all_sections=bool(args.all_sections),
        venv=args.venv,
        python=args.python,
        python_version=args.python_version,
        platform=tuple(args.platform),
        implementation=args.implementation,
        abi=tuple(args.abi),
        all_hashes=bool(args.all_hashes),
        wheelhouse=args.wheelhouse,
        **source_options(args),
        no_pip_cache=bool(args.no_pip_cache),
        cache_dir=args.cache_dir,
        offline=bool(args.offline),
        jobs=args.jobs,
        deploy=bool(args.deploy),
        pypi_mirror=pypi_mirror(args),
        lockfile=args.lockfile,
    )


def run_fetch(args: argparse.Namespace) -> int:
    started = time.perf_counter()

    def body(warn: Any, log: Any, quiet: bool) -> tuple[str, dict[str, Any]]:
        progress = for_command(args, log)
        try:
            fetched = fetch(fetch_options(args), warn=warn, log=log, progress=progress)
        finally:
            progress.finish()
        if fetched.wheelhouse is not None:
            _record_status(fetched, args, log=log)
        return _fetch_text(fetched, args.verbose), _fetch_json(fetched, time.perf_counter() - started)

    return run_command(args, body)


def _record_status(f: Fetched, args: argparse.Namespace, *, log: Any) -> None:
    """``status.json`` beside the wheelhouse: the index status of what it holds, for hosts that are offline.

    Asked (conditionally) once the wheelhouse is written; offline, what the cache knows is recorded.
    """
    from pipenv_sync_ext.store.mirrorconfig import configured_mirrors, mirror_sources
    from pipenv_sync_ext.store.site import readable_mode
    from pipenv_sync_ext.store.status import write_recorded
    from pipenv_sync_ext.store.status_fetch import WHEELHOUSE_STATUS, StatusCheck

    packages = [p for p, _a in f.chosen]
    given = source_options(args)
    mirrors = configured_mirrors(
        given["find_links_urls"], given["index_url"], extra_index_urls=given["extra_index_urls"]
    )
    check = StatusCheck(
        packages,
        f.lock.sources,
        cache_dir=f.store.root,
        online=not args.offline,
        log=log,
        mirrors=mirror_sources(mirrors.indexes),  # the same status sources as a sync's
    ).start()
    statuses = [a.status for lookup in check.results().values() for a in lookup.answers]
    write_recorded(f.wheelhouse.directory / WHEELHOUSE_STATUS, statuses, mode=readable_mode())
    log(f"Recorded the index status of {len(statuses)} project(s) in {f.wheelhouse.directory / WHEELHOUSE_STATUS}")


_ORIGIN_TEXT = {
    "store": "already in the store",
    "find-links": "from --find-links",
    "pip-cache": "from pip's cache",
    "index": "downloaded",
}


def _fetch_text(f: Fetched, verbose: bool) -> str:
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}  # bytes by origin: "4 downloaded (2.1 MB)" counts what was downloaded only
    for _p, a in f.chosen:
        origin = f.origins.get(a.artifact.sha256, "store")
        counts[origin] = counts.get(origin, 0) + 1
        sizes[origin] = sizes.get(origin, 0) + _size(a)
    parts = [f"{counts[o]} {text} ({human_size(sizes[o])})" for o, text in _ORIGIN_TEXT.items() if o in counts]
    names = {p.name for p, _a in f.chosen}
    lines = [
        f"Fetched {len(f.chosen)} artifact(s) for {len(names)} package(s) of [{', '.join(f.sections)}], "
        f"for {f.target}: {', '.join(parts) or 'nothing to do'}; {human_size(sum(sizes.values()))} in all",
        f"Store: {f.store.root}",
    ]
    if f.build_requirements:
        needed_by = sorted({by for by, _a in f.build_requirements})
        files = sorted({a.artifact.filename for _by, a in f.build_requirements})
        lines.append(f"Build requirements of {', '.join(needed_by)}: {', '.join(files)}")
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
            f"or serve it over HTTP and use <url>/ as --find-links, <url>/simple/ as the index"
        )
    return "\n".join(lines)


def _size(a: LocalArtifact) -> int:
    try:
        return a.path.stat().st_size
    except OSError:
        return 0


def _fetch_json(f: Fetched, elapsed: float) -> dict[str, Any]:
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
        "build_requirements": [
            {"needed_by": by, "filename": a.artifact.filename, "sha256": a.artifact.sha256}
            for by, a in f.build_requirements
        ],
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
