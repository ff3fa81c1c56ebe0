"""The pipeline: lock -> target -> inventory -> plan -> store/fetch -> execute.

Each stage is its own module; this one only wires them together, in order,
and makes sure nothing in the venv changes before every artifact is in hand.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import execute, inventory
from .artifacts import gather
from .errors import LockError, OfflineViolation, StaleLockError, TargetError
from .fetch import IndexClient
from .freshness import is_stale
from .interpreter import Interpreter, probe, venv_python
from .lockfile import Lock, LockedPackage, load_lock, select_sections
from .plan import PROTECTED, Plan, make_plan
from .project import Project, find_project, locate_venv
from .store import FindLinks, Store, default_cache_dir
from .venv import create, find_python


@dataclass(frozen=True)
class Options:
    project_dir: Path | None = None
    venv: Path | None = None
    python: str | None = None
    dev: bool = False
    categories: tuple[str, ...] = ()
    all_sections: bool = False
    prune: bool = False
    offline: bool = False
    dry_run: bool = False
    deploy: bool = False
    keep: tuple[str, ...] = ()
    find_links: tuple[Path, ...] = ()
    cache_dir: Path | None = None


@dataclass(frozen=True)
class Result:
    plan: Plan
    venv: Path
    lock: Path
    sections: tuple[str, ...]
    dry_run: bool
    elapsed: float
    created_venv: bool = False
    warnings: tuple[str, ...] = field(default=())


def sync(options: Options, warn: Callable[[str], None], log: Callable[[str], None]) -> Result:
    started = time.perf_counter()
    warnings: list[str] = []

    def _warn(message: str) -> None:
        warnings.append(message)
        warn(message)

    if options.offline:
        forbid_network()
    project = find_project(options.project_dir)
    lock = load_lock(project.lockfile)
    _check_freshness(project, lock, options.deploy, _warn)
    sections = select_sections(lock, dev=options.dev, categories=options.categories, all_sections=options.all_sections)
    cache_dir = options.cache_dir or default_cache_dir()

    venv = Path(os.path.abspath(options.venv or locate_venv(project)))
    python = venv_python(venv)
    if not python.exists():
        if (venv / "pyvenv.cfg").exists():
            raise TargetError(
                f"{venv}: virtualenv has no interpreter at {python} (broken or moved); "
                "remove it and run again to recreate it"
            )
        if options.dry_run:  # plan against the interpreter the venv would be made with
            interp = probe(Path(find_python(options.python, lock.requires)), cache_dir)
            plan = _plan(lock, sections, (), interp, options)
            return Result(plan, venv, lock.path, sections, True, time.perf_counter() - started, False, tuple(warnings))
        log(f"Creating virtualenv {venv}")
        create(venv, find_python(options.python, lock.requires))
        try:
            plan = _sync_into(venv, lock, sections, options, cache_dir, _warn, log)
        except BaseException:
            # The venv did not exist before this run: a failed sync leaves no half-made one behind.
            shutil.rmtree(venv, ignore_errors=True)
            raise
        return Result(plan, venv, lock.path, sections, False, time.perf_counter() - started, True, tuple(warnings))

    plan = _sync_into(venv, lock, sections, options, cache_dir, _warn, log)
    return Result(
        plan, venv, lock.path, sections, options.dry_run, time.perf_counter() - started, False, tuple(warnings)
    )


def _sync_into(
    venv: Path,
    lock: Lock,
    sections: tuple[str, ...],
    options: Options,
    cache_dir: Path,
    warn: Callable[[str], None],
    log: Callable[[str], None],
) -> Plan:
    """Plan against an existing venv, then (unless dry-run) fetch everything, then change it."""
    interp = probe(venv_python(venv), cache_dir)
    installed = inventory.scan(interp.site_dirs)
    plan = _plan(lock, sections, installed, interp, options)
    _report_others(plan, options.deploy, lock, warn)
    if options.dry_run or plan.changes_nothing:
        return plan

    store = Store(cache_dir, warn)
    find_links = FindLinks(options.find_links, warn)
    client = None if options.offline else IndexClient(lock.sources, log)
    packages: list[LockedPackage] = [step.package for step in plan.install]
    artifacts = gather(packages, interp.tag_rank, store, find_links, client, log, str(lock.path))

    removals = [r.dist for r in plan.remove] + [d for step in plan.install for d in step.replaces]
    kept = [u.dist for u in plan.unchanged] + list(plan.extraneous) + [o.dist for o in plan.others if o.dist]
    execute.apply(removals, [artifacts[p.name] for p in packages], kept, interp, venv, warn)
    return plan


def _plan(
    lock: Lock,
    sections: tuple[str, ...],
    installed: Sequence[inventory.InstalledDist],
    interp: Interpreter,
    options: Options,
) -> Plan:
    entries = [entry for section in sections for entry in lock.sections[section]]
    protected = PROTECTED | {n for n in options.keep}
    if options.prune:
        from packaging.utils import canonicalize_name

        roots = {canonicalize_name(n) for n in protected}
        protected = inventory.dependency_closure(installed, roots, interp.markers) | roots
    return make_plan(
        entries,
        installed,
        interp.markers,
        prune=options.prune,
        protected=frozenset(protected),
        lock_label=str(lock.path),
    )


def _check_freshness(project: Project, lock: Lock, deploy: bool, warn: Callable[[str], None]) -> None:
    if not project.has_pipfile:
        warn(f"{project.pipfile}: not found; cannot tell whether {lock.path.name} is up to date")
        return
    if is_stale(project.pipfile, lock.pipfile_sha256):
        message = f"{lock.path}: out of date with {project.pipfile.name} (_meta.hash differs); run `pipenv lock`"
        if deploy:
            raise StaleLockError(message + " (refused under --deploy)")
        warn(message)


def _report_others(plan: Plan, deploy: bool, lock: Lock, warn: Callable[[str], None]) -> None:
    missing = [o.entry for o in plan.others if o.dist is None]
    if not missing:
        return
    names = "; ".join(f"[{e.category}] {e.name} ({e.kind}: {e.source})" for e in missing)
    message = f"{lock.path}: not installed by pipenv-sync yet, install them with pipenv: {names}"
    if deploy:
        raise LockError(message + " (refused under --deploy)")
    warn(message)


def forbid_network() -> None:
    """Make ``--offline`` a guarantee: any socket connect in this process raises."""

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in ("socket.connect", "socket.getaddrinfo"):
            raise OfflineViolation(f"--offline: refused a network connection ({event} {args[1:2]!r})")

    sys.addaudithook(hook)
