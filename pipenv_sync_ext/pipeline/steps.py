"""The steps a sync in place and a fresh build share: plan, preflight, direct entries, conflicts, the stamp."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipenv_sync_ext.errors import InstallError, LockError
from pipenv_sync_ext.fastpath import stamp
from pipenv_sync_ext.feedback import BUILD, PREPARE, Say, step_of
from pipenv_sync_ext.install import direct, execute
from pipenv_sync_ext.lock.evaluated import marker_results, recall, remember
from pipenv_sync_ext.lock.model import Lock, LockedPackage
from pipenv_sync_ext.lock.names import canonical_name
from pipenv_sync_ext.pipeline.context import Run, not_in_lock_note
from pipenv_sync_ext.plan import PROTECTED, Plan, make_plan, warn_overrides
from pipenv_sync_ext.store import piptool
from pipenv_sync_ext.store.buildreqs import BuildRequirements, PipFetch
from pipenv_sync_ext.store.cas import LocalArtifact, Store
from pipenv_sync_ext.store.findlinks import FindLinks
from pipenv_sync_ext.store.gather import gather
from pipenv_sync_ext.store.mirrorconfig import configured_mirrors, mirror_sources
from pipenv_sync_ext.store.sdist import WheelBuilder
from pipenv_sync_ext.target import inventory
from pipenv_sync_ext.target.interpreter import Interpreter

if TYPE_CHECKING:
    from pipenv_sync_ext.install.conflicts import Conflict
    from pipenv_sync_ext.store.index import IndexClient

SELF = "pipenv-sync-ext"


def pending_direct(run: Run, plan: Plan) -> list[direct.DirectRequirement]:
    """Editable, path, file and VCS entries that are not installed as the lock says."""
    reqs = [
        (direct.resolve(other.entry, run.project.directory), other.dist)
        for other in plan.others
        if other.entry.kind in direct.DIRECT_KINDS
    ]
    direct.check_distinct([req for req, _dist in reqs], str(run.lock.path))
    return [req for req, dist in reqs if not direct.is_current(req, dist)]


def names(pending: Sequence[direct.DirectRequirement]) -> tuple[str, ...]:
    return tuple(r.entry.name for r in pending)


@dataclass(frozen=True)
class Prepared:
    """What preflight found: a verified wheel per install, and the build requirements of what pip builds."""

    artifacts: list[LocalArtifact]
    build_requirements: BuildRequirements


def install_direct(
    run: Run, pending: Sequence[direct.DirectRequirement], *, prepared: Prepared, interp: Interpreter, venv: Path
) -> None:
    if not pending:
        return
    spinner = step_of(run.progress, BUILD, total=None, label=", ".join(names(pending)) + " with pip")
    direct.install(pending, interp=interp, venv=venv, build_requirements=prepared.build_requirements, log=run.log)
    spinner.advance(len(pending))
    spinner.done()


def find_conflicts(run: Run, plan: Plan, interp: Interpreter) -> list[Conflict]:
    """The conflict check's answer; "none" is remembered in the store for the exact installed
    requirements, markers and extras it was found for (``lock/evaluated.py``), so a repeat needs
    no requirement parser: only METADATA is read again."""
    dists = inventory.scan(interp.site_dirs)
    requires = [(d.name, d.version, inventory.requires_dist(d.metadata_dir)) for d in dists]
    extras: dict[str, tuple[str, ...]] = {s.package.name: s.package.extras for s in plan.install}
    extras.update({u.package.name: u.package.extras for u in plan.unchanged})
    extras.update({o.entry.name: o.entry.extras for o in plan.others})
    key = {"installed": requires, "environment": dict(interp.markers), "extras": sorted(extras.items())}
    if recall(run.cache_dir, "conflicts", key=key, valid=lambda v: v is True):
        return []
    from pipenv_sync_ext.install import conflicts

    installed = [conflicts.Installed(name, version, lines) for name, version, lines in requires]
    found = conflicts.find_conflicts(installed, interp.markers, extras)
    if not found:
        remember(run.cache_dir, "conflicts", key=key, value=True)
    return found


def conflicts_ok(run: Run, plan: Plan, interp: Interpreter) -> bool:
    """After a change: every installed requirement must hold. Warn, or fail under --deploy."""
    found = find_conflicts(run, plan, interp)
    if not found:
        return True
    message = f"{run.venv}: {len(found)} installed requirement(s) not met"
    if run.options.deploy:
        raise InstallError(
            message + " (refused under --deploy)",
            details=[c.describe() for c in found],
            hint="relock (`pipenv lock`) so the lock's pins agree, or sync without --deploy",
        )
    run.warn(message + ":" + "".join(f"\n  {c.describe()}" for c in found))
    return False


def plan_for(run: Run, installed: Sequence[inventory.InstalledDist], interp: Interpreter) -> Plan:
    options = run.options
    entries = [entry for section in run.sections for entry in run.lock.sections[section]]
    protected = PROTECTED | set(options.keep)
    if os.path.realpath(interp.prefix) == os.path.realpath(sys.prefix):
        protected |= {SELF}  # syncing the venv this tool runs from: do not prune the tool
    if options.prune:
        roots = {canonical_name(n) for n in protected}
        protected = inventory.dependency_closure(installed, roots, interp.markers) | roots
    lock_label = str(run.lock.path)
    plan = make_plan(
        entries=entries,
        installed=installed,
        environment=interp.markers,
        prune=options.prune,
        protected=frozenset(protected),
        lock_label=lock_label,
        evaluated=marker_results(run.cache_dir, entries, environment=interp.markers, lock_label=lock_label),
    )
    report_others(plan, deploy=options.deploy, lock=run.lock, warn=run.warn)
    warn_overrides(plan, str(run.lock.path), run.warn)
    return plan


def preflight(run: Run, plan: Plan, *, interp: Interpreter, pending: Sequence[direct.DirectRequirement]) -> Prepared:
    """A verified, well-formed wheel for every install, and the build requirements of every pending
    direct entry in the store, or an error before anything changes."""
    direct.check_available(pending, run.options.offline, str(run.lock.path))
    from pipenv_sync_ext.store.pipconfig import find_links_dirs

    options = run.options
    store = Store(run.cache_dir, run.warn)
    configured = find_links_dirs()
    mirrors = configured_mirrors(options.find_links_urls, options.index_url, extra_index_urls=options.extra_index_urls)
    # pip gets the index mirrors too; with --no-lock-sources and none of them, no index at all (not pip's default)
    pip_sources = [*mirror_sources(mirrors.indexes), *run.lock.sources]
    build_requirements = BuildRequirements(
        run.cache_dir,
        store,
        lambda: wheel_fetch(interp, Path(interp.prefix)),
        find_links=[*options.find_links, *configured],
        sources=pip_sources,
        offline=options.offline or not (pip_sources or options.lock_sources),
        log=run.log,
    )
    for req in pending:
        need = direct.build_need(req)
        if need is not None:
            build_requirements.ensure(need)
    packages: list[LockedPackage] = [step.package for step in plan.install]
    if not packages:
        # A prune: no wheel to find, so no directory, pip cache or index is read (nor packaging imported).
        return Prepared([], build_requirements)
    find_links = FindLinks(options.find_links, run.warn, configured=(*configured, *run.lock.find_links))
    pip_cache = None
    if run.options.pip_cache:
        from pipenv_sync_ext.store.pipcache import PipCache

        pip_cache = PipCache.default(run.cache_dir, run.warn)

    def connect() -> IndexClient:  # made only when a package is not found locally (store/gather.py)
        from pipenv_sync_ext.pipeline.lockurls import client_for  # http, ssl, email

        return client_for(run.lock, run.log, mirrors=mirrors)

    preparing = step_of(run.progress, PREPARE, total=len(packages))
    builder = WheelBuilder(run.cache_dir, interp, build_requirements=build_requirements, log=run.log)
    artifacts = gather(
        packages=packages,
        tag_rank=interp.tag_rank,
        store=store,
        find_links=find_links,
        client=None if run.options.offline else connect,
        log=run.log,
        lock_label=str(run.lock.path),
        pip_cache=pip_cache,
        builder=builder,
        progress=run.progress,
        unpack=True,  # checked and unpacked while the other downloads run; collected by check_wheel below
    )
    for package in packages:
        execute.check_wheel(artifacts[package.name], package.name, run.cache_dir)
        preparing.advance()
    preparing.done()
    return Prepared([artifacts[p.name] for p in packages], build_requirements)


def not_in_store(run: Run, plan: Plan) -> tuple[str, ...]:
    """--dry-run/--check: the packages to install that no allowed file in the store or --find-links covers.

    Read only (nothing is fetched, copied or evicted), so pip's cache is not
    looked into: a sync may find some of these there instead of downloading them.
    """
    if not plan.install:
        return ()
    store = Store(run.cache_dir, run.warn)
    find_links = FindLinks(run.options.find_links, run.warn, configured=run.lock.find_links)
    return tuple(
        p.name
        for p in (step.package for step in plan.install)
        if not any(store.get(h) is not None for h in p.hashes)
        and not find_links.candidates(p.name, p.hashes, p.version)
    )


def wheel_fetch(interp: Interpreter, venv: Path) -> PipFetch:
    """Build requirements for a real interpreter: ``pip wheel`` in it (its markers, its tags)."""
    return PipFetch(tuple(piptool.pip_command(interp, venv)), ("wheel", "--wheel-dir"), interp.markers, interp.tag_rank)


def write_stamp(run: Run, plan: Plan, *, interp: Interpreter, warnings: Sequence[str]) -> None:
    run.gate(plan)  # a sync with nothing to change is judged too, before it is stamped "in sync"
    if run.key is None or any(o.entry.kind == "unpinned" and o.dist is None for o in plan.others):
        return  # entries the lock cannot install are missing: not "in sync"
    note = not_in_lock_note(run.prunable(plan))  # said again when the stamp answers (as a warning)
    warnings = [*warnings, note] if note else warnings
    packages = [(u.package.name, u.package.version) for u in plan.unchanged]
    packages += [(s.package.name, s.package.version) for s in plan.install]
    inputs = [
        (str(req.local), req.entry.editable)
        for o in plan.others
        if o.entry.kind in direct.DIRECT_KINDS
        and (req := direct.resolve(o.entry, run.project.directory)).local is not None
        and o.entry.kind != "vcs"
    ]
    made = stamp.make_stamp(
        key=run.key,
        venv=run.venv,
        lock=run.lock.path,
        pipfile=run.project.pipfile,
        sections=run.sections,
        site_dirs=interp.site_dirs,
        packages=packages,
        warnings=warnings,
        inputs=inputs,
    )
    stamp.write(made)


def report_others(plan: Plan, *, deploy: bool, lock: Lock, warn: Say) -> None:
    """Entries locked without a pin or hashes ("*") whose markers are true here: the lock
    was made where they did not apply, so it cannot say what to install."""
    missing = [o.entry for o in plan.others if o.dist is None and o.entry.kind == "unpinned"]
    if not missing:
        return
    names = "; ".join(f"[{e.category}] {e.name} ({e.source})" for e in missing)
    message = f"{lock.path}: incomplete for this platform, no pinned hashes for: {names}"
    if deploy:
        raise LockError(message + " (refused under --deploy)", hint="re-lock here (`pipenv lock`)")
    warn(message + "; re-lock here (`pipenv lock`)")
