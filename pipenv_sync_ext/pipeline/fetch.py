"""``pipenv-sync fetch``: lock -> target -> plan -> store (and a wheelhouse), without touching any venv.

Takes the same selection as a sync (``--dev``, ``--categories``, ``--all``)
and places (``--find-links``, pip's configured find-links, pip's HTTP cache,
the lock's sources) and puts every artifact the selection needs in the store:
for the project's venv's interpreter (or the one a new venv would be made
with), or for a target described like ``pip download`` does
(``--python-version 3.12 --platform manylinux_2_28_x86_64 --implementation cp
--abi cp312``). ``--all-hashes`` takes every file the lock allows, for every
platform. ``--wheelhouse DIR`` copies the chosen artifacts to DIR with a static
PEP 503 index (:mod:`pipenv_sync_ext.store.wheelhouse`).

What the target will have to build is prepared too: an sdist-only package
gets its sdist, and it and every editable, ``path``, local ``file`` and local
VCS entry get their build requirements (:mod:`pipenv_sync_ext.store.buildreqs`,
``pip wheel`` in the target interpreter, ``pip download --only-binary=:all:``
with the platform options for an explicit target), recorded in the store and
copied into the wheelhouse. ``--all-hashes`` has no target to fetch them for,
so it fetches none and says so.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipenv_sync_ext.errors import LockError, SyncError
from pipenv_sync_ext.feedback import LineProgress, Progress, Say
from pipenv_sync_ext.lock.choose import is_pylock_lock, load_lock
from pipenv_sync_ext.lock.freshness import check_lock
from pipenv_sync_ext.lock.mirror import with_mirror
from pipenv_sync_ext.lock.model import Lock, LockedPackage, OtherEntry
from pipenv_sync_ext.lock.selection import select
from pipenv_sync_ext.store.buildreqs import BuildRequirements, Need, PipFetch, of_archive
from pipenv_sync_ext.store.cas import LocalArtifact, Store, default_cache_dir
from pipenv_sync_ext.target.explicit import Target, TargetSpecError


@dataclass(frozen=True)
class FetchOptions:
    """What ``fetch`` is asked to do (the CLI's flags, parsed)."""

    project: Path | None = None
    dev: bool = False
    categories: tuple[str, ...] = ()
    all_sections: bool = False
    venv: Path | None = None
    python: str | None = None
    python_version: str | None = None
    platform: tuple[str, ...] = ()
    implementation: str | None = None
    abi: tuple[str, ...] = ()
    all_hashes: bool = False
    wheelhouse: Path | None = None
    find_links: tuple[Path, ...] = ()
    find_links_urls: tuple[str, ...] = ()  # remote mirrors (store/mirrors.py), as for a sync
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    lock_sources: bool = True
    no_pip_cache: bool = False
    cache_dir: Path | None = None
    offline: bool = False
    jobs: int = 8
    deploy: bool = False
    pypi_mirror: str | None = None  # replaces the lock's pypi.org sources (lock/mirror.py)
    lockfile: Path | None = None  # --lockfile: instead of the project's (fastpath/lockchoice.py)


@dataclass
class Fetched:
    """What a fetch put in the store (and the wheelhouse), for the report."""

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
    # the files of what the target will build (sdists, editable and path entries), by what needs them
    build_requirements: list[tuple[str, LocalArtifact]] = field(default_factory=list)


def fetch(args: FetchOptions, *, warn: Say, log: Say, progress: Progress | None = None) -> Fetched:
    from pipenv_sync_ext.pipeline.lockurls import client_for
    from pipenv_sync_ext.pipeline.offline import forbid_network
    from pipenv_sync_ext.plan import make_plan, warn_overrides
    from pipenv_sync_ext.store.findlinks import FindLinks
    from pipenv_sync_ext.store.gather import gather, gather_every_file
    from pipenv_sync_ext.store.mirrorconfig import configured_mirrors, mirror_sources
    from pipenv_sync_ext.store.pipcache import PipCache
    from pipenv_sync_ext.store.pipconfig import find_links_dirs
    from pipenv_sync_ext.target.project import find_project

    explicit = bool(args.python_version or args.platform or args.abi or args.implementation)
    if args.all_hashes and (explicit or args.venv or args.python):
        raise TargetSpecError("--all-hashes fetches for every platform; it takes no target (--platform, --venv...)")
    if explicit and (args.venv or args.python):
        raise TargetSpecError("give either an explicit target (--python-version/--platform...) or --venv/--python")
    if args.offline:
        forbid_network()
    project = find_project(args.project, lockfile=args.lockfile)
    lock = load_lock(project.lockfile, warn=warn)
    lock = dataclasses.replace(lock, sources=with_mirror(lock.sources, args.pypi_mirror))
    if not args.lock_sources:  # --no-lock-sources, as for a sync
        lock = dataclasses.replace(lock, sources=(), urls={})
    # fetch stays quiet when there is no Pipfile: it only fills the store
    check_lock(
        pipfile=project.pipfile if project.has_pipfile and not is_pylock_lock(lock) else None,
        lock_path=lock.path,
        pipfile_sha256=lock.pipfile_sha256,
        deploy=args.deploy,
        warn=warn,
    )
    pipfile = project.pipfile if project.has_pipfile else None
    lock, sections = select(lock, pipfile, dev=args.dev, categories=args.categories, all_sections=args.all_sections)
    for directory in args.find_links:
        if not directory.is_dir():
            raise SyncError(
                f"--find-links {directory}: no such directory",
                hint="give a directory of wheels (a `pipenv-sync fetch --wheelhouse` output), or drop the option",
            )
    cache_dir = args.cache_dir or default_cache_dir()
    store = Store(cache_dir, warn)
    find_links = FindLinks(args.find_links, warn, configured=(*find_links_dirs(), *lock.find_links))
    pip_cache = None if args.no_pip_cache else PipCache.default(cache_dir, warn)
    mirrors = configured_mirrors(args.find_links_urls, args.index_url, extra_index_urls=args.extra_index_urls)
    pip_sources = [*mirror_sources(mirrors.indexes), *lock.sources]  # for build requirements, as a sync's
    client = None if args.offline else client_for(lock, log, mirrors=mirrors)
    entries = [entry for section in sections for entry in lock.sections[section]]
    origins: dict[str, str] = {}
    progress = progress or LineProgress(log)
    label = str(lock.path)

    if args.all_hashes:
        packages = [e for e in entries if isinstance(e, LockedPackage)]
        others = _unique_others(e for e in entries if isinstance(e, OtherEntry))
        _report_others(others, lock, args.deploy, warn)
        if any(o.kind in _BUILT for o in others):
            warn(f"{label}: --all-hashes fetches no build requirements (they are per target); run fetch for a target")
        every = gather_every_file(
            packages=packages,
            store=store,
            find_links=find_links,
            client=client,
            log=log,
            lock_label=label,
            pip_cache=pip_cache,
            progress=progress,
            workers=args.jobs,
            origins=origins,
        )
        chosen = every.artifacts
        for pin, n in every.unlisted.items():
            warn(f"{label}: {pin}: {n} of the files the lock allows are in no place and listed by no source")
        fetched = Fetched(lock, sections, "every platform (--all-hashes)", store, chosen, origins, others=others)
        fetched.unlisted = every.unlisted
    else:
        target, fetcher = _target(args, explicit, project, lock, cache_dir)
        plan = make_plan(entries=entries, installed=(), environment=target.markers, prune=False, lock_label=label)
        warn_overrides(plan, label, warn)
        build = BuildRequirements(
            cache_dir,
            store,
            fetcher,
            find_links=[*args.find_links, *find_links_dirs()],
            sources=pip_sources,
            offline=args.offline or not (pip_sources or args.lock_sources),
            log=log,
        )
        others = [o.entry for o in plan.others]
        prepared = _prepare_direct(others, project.directory, build, label)
        _report_others([o for o in others if o.name not in {n for n, _by in prepared}], lock, args.deploy, warn)
        packages = [step.package for step in plan.install]
        log(f"Fetching {len(packages)} package(s) for {target.description}")
        found = gather(
            packages=packages,
            tag_rank=target.tag_rank,
            store=store,
            find_links=find_links,
            client=client,
            log=log,
            lock_label=label,
            pip_cache=pip_cache,
            progress=progress,
            workers=args.jobs,
            origins=origins,
            keep_sdists=True,
        )
        skipped = [(s.entry.name, s.reason) for s in plan.skipped]
        chosen = [(p, found[p.name]) for p in packages]
        fetched = Fetched(lock, sections, target.description, store, chosen, origins, skipped, others)
        for p, artifact in chosen:
            if not artifact.artifact.is_wheel and (declared := of_archive(artifact.path)) is not None:
                need = Need(declared, f"[{p.category}] {p.name}=={p.version} (sdist {artifact.artifact.filename})")
                prepared[(p.name, need.needed_by)] = build.ensure(need)
        fetched.build_requirements = [(by, a) for (_name, by), files in prepared.items() for a in files]

    if args.wheelhouse is not None:
        from pipenv_sync_ext.store.wheelhouse import export

        artifacts = [a for _p, a in fetched.chosen] + [a for _by, a in fetched.build_requirements]
        unique = {a.artifact.sha256: a for a in artifacts}  # one build requirement may serve several entries
        fetched.wheelhouse = export(unique.values(), args.wheelhouse, warn)
    return fetched


_BUILT = frozenset({"editable", "path", "file", "vcs"})


def _prepare_direct(
    others: Sequence[OtherEntry], project_dir: Path, build: BuildRequirements, label: str
) -> dict[tuple[str, str], list[LocalArtifact]]:
    """Build requirements of the entries pip will build from a local source: (name, label) -> their files."""
    from pipenv_sync_ext.install import direct

    reqs = [direct.resolve(o, project_dir) for o in others if o.kind in _BUILT]
    direct.check_distinct(reqs, label)
    prepared: dict[tuple[str, str], list[LocalArtifact]] = {}
    for req in reqs:
        need = direct.build_need(req) if req.local is not None and req.local.exists() else None
        if need is not None:
            prepared[(req.entry.name, need.needed_by)] = build.ensure(need)
    return prepared


def _target(
    args: FetchOptions, explicit: bool, project: Any, lock: Lock, cache_dir: Path
) -> tuple[Target, Callable[[], PipFetch]]:
    """The target's markers and tags, and how pip fetches build requirements for it."""
    from pipenv_sync_ext.pipeline.steps import wheel_fetch
    from pipenv_sync_ext.target.explicit import explicit_target
    from pipenv_sync_ext.target.interpreter import probe, venv_python
    from pipenv_sync_ext.target.project import locate_venv

    if explicit:
        version = args.python_version or lock.requires.get("python_full_version") or lock.requires.get("python_version")
        if not version:
            raise TargetSpecError("--python-version is needed: the lock's _meta.requires names no Python version")
        target = explicit_target(
            version,
            platforms=args.platform,
            implementation=args.implementation or "cp",
            abis=args.abi,
            requires=lock.requires,
        )
        options = ["download", "--only-binary=:all:", "--python-version", version]
        options += [arg for p in args.platform for arg in ("--platform", p)]
        options += ["--implementation", args.implementation or "cp"]
        options += [arg for abi in args.abi for arg in ("--abi", abi)]
        fetch = PipFetch((sys.executable, "-m", "pip"), (*options, "--dest"), target.markers, target.tag_rank)
        return target, lambda: fetch
    venv = Path(os.path.abspath(args.venv or locate_venv(project)))
    if (venv / "pyvenv.cfg").is_file() and not args.python:
        interp = probe(venv_python(venv), cache_dir)
        where = f"the venv {venv}"
    elif args.venv is not None:
        raise SyncError(f"--venv {venv}: not a virtualenv (no pyvenv.cfg)")
    else:
        from pipenv_sync_ext.target.discovery import find_python

        python = find_python(args.python, lock.requires)
        interp = probe(Path(python), cache_dir)
        where = python
    target = Target(f"Python {interp.version} ({where})", interp.markers, interp.tags)
    return target, lambda: wheel_fetch(interp, Path(interp.prefix))


def _unique_others(others: Any) -> list[OtherEntry]:
    seen: dict[str, OtherEntry] = {}
    for o in others:
        seen.setdefault(o.name, o)
    return list(seen.values())


def _report_others(others: Sequence[OtherEntry], lock: Lock, deploy: bool, warn: Say) -> None:
    if not others:
        return
    names = "; ".join(f"[{e.category}] {e.name} ({e.kind}: {e.source})" for e in others)
    message = f"{lock.path}: not fetched (pipenv-sync installs only pinned, hashed index packages): {names}"
    if deploy:
        raise LockError(message + " (refused under --deploy)")
    warn(message)
