"""The full pipeline: lock -> target -> inventory -> plan -> store/fetch -> execute -> stamp.

Each stage is its own module; this one wires them together, in order, and holds
the two rules that span stages:

* nothing in the environment changes before every artifact is in hand and
  checked (preflight), and nothing changes at all under ``--dry-run`` or
  ``--check``;
* a venv that cannot be synced in place (missing, broken, moved, drifted) is
  built beside the target and swapped in only once complete (:mod:`.venv`), so
  a failed build leaves the old venv untouched.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import conflicts, direct, drift, execute, inventory, journal, stamp, venvlock, verify
from .artifacts import gather
from .errors import InstallError, LockError, SyncError, TargetError
from .freshness import check_lock
from .interpreter import Interpreter, probe, venv_python
from .lockfile import Lock, LockedPackage, load_lock, select_sections
from .plan import PROTECTED, Install, Plan, make_plan
from .project import Project
from .sdist import WheelBuilder
from .store import FindLinks, LocalArtifact, Store, default_cache_dir
from .sync import Options, Result
from .venv import create_beside, find_python, leftovers, retarget, swap_in

SELF = "pipenv-sync-ext"
Say = Callable[[str], None]


@dataclass
class _Run:
    """What every stage of one run needs; built once by :func:`run_pipeline`."""

    project: Project
    venv: Path
    key: stamp.Key | None
    options: Options
    lock: Lock
    sections: tuple[str, ...]
    cache_dir: Path
    warn: Say
    log: Say
    warnings: list[str]
    started: float

    def result(
        self,
        plan: Plan | None,
        problems: tuple[drift.Problem, ...],
        *,
        out_of_sync: tuple[str, ...] = (),
        created_venv: bool = False,
        rebuilt: bool = False,
        direct: tuple[str, ...] = (),
    ) -> Result:
        return Result(
            plan=plan,
            venv=self.venv,
            lock=self.lock.path,
            sections=self.sections,
            dry_run=self.options.dry_run or self.options.check,
            elapsed=time.perf_counter() - self.started,
            created_venv=created_venv,
            warnings=tuple(self.warnings),
            rebuilt=rebuilt,
            problems=problems,
            out_of_sync=out_of_sync,
            direct=direct,
        )


def run_pipeline(
    project: Project, venv: Path, key: stamp.Key | None, options: Options, warn: Say, log: Say, started: float
) -> Result:
    warnings: list[str] = []

    def _warn(message: str) -> None:
        warnings.append(message)
        warn(message)

    lock = load_lock(project.lockfile)
    _check_freshness(project, lock, options.deploy, _warn)
    sections = select_sections(lock, dev=options.dev, categories=options.categories, all_sections=options.all_sections)
    for directory in options.find_links:
        if not directory.is_dir():
            raise SyncError(f"--find-links {directory}: no such directory")
    cache_dir = options.cache_dir or default_cache_dir()
    run = _Run(project, venv, key, options, lock, sections, cache_dir, _warn, log, warnings, started)
    if options.check or options.dry_run:
        return _run(run)
    with venvlock.holding(venv, cache_dir, options.lock_timeout, log):
        return _run(run)


def _run(run: _Run) -> Result:
    venv, options, lock, log = run.venv, run.options, run.lock, run.log

    if venv.exists() and not venv.is_dir():
        raise TargetError(f"{venv}: is not a directory; not a virtualenv")
    if not venv.exists() or not any(venv.iterdir()):
        return _fresh(run, ())
    problems = list(drift.inspect_venv(venv, prune=options.prune))
    if any(p.code == drift.NO_PYVENV_CFG for p in problems):
        if options.check:
            return run.result(None, tuple(problems), out_of_sync=tuple(p.message for p in problems))
        raise TargetError(f"{venv}: not a virtualenv (no pyvenv.cfg); pipenv-sync only changes virtualenvs")
    if options.rebuild:
        return _fresh(run, tuple(problems))

    interp = None
    if not any(p.breaks_venv for p in problems):
        interp = probe(venv_python(venv), run.cache_dir)
        if os.path.realpath(interp.prefix) == os.path.realpath(interp.base_prefix):
            raise TargetError(f"{venv}: its interpreter is not a virtualenv's (sys.prefix is the base prefix)")
        upgraded = drift.base_upgraded(venv, interp.version)
        if upgraded is not None:
            problems.append(upgraded)
        wanted = drift.requires_mismatch(lock.requires, interp.version)
        if wanted is not None:
            problems.append(_drift_problem(run, wanted, interp.version))

    if options.check:
        if interp is None:
            return run.result(None, tuple(problems), out_of_sync=tuple(p.message for p in problems))
        return _in_place(run, interp, tuple(problems))
    allowed = [p for p in problems if p.code == drift.PYTHON_DRIFT and options.allow_python_drift]
    if len(allowed) < len(problems) and (options.rebuild_on_drift or _env_flag("PIPENV_SYNC_REBUILD")):
        for p in problems:
            log(f"Rebuilding: {p.message}")
        return _fresh(run, tuple(problems))
    fatal = [p for p in problems if p.breaks_venv or (p.code == drift.PYTHON_DRIFT and p not in allowed)]
    if fatal:
        reasons = "; ".join(p.message for p in fatal)
        hint = "run again with --rebuild to recreate it from the store"
        if any(p.code == drift.PYTHON_DRIFT for p in fatal):
            hint += " (add --python X.Y to choose the interpreter), or --allow-python-drift to sync it anyway"
        raise TargetError(f"{reasons}; {hint}")
    for p in problems:
        run.warn(p.message)
    assert interp is not None
    return _in_place(run, interp, tuple(problems))


def _drift_problem(run: _Run, wanted: str, have: str) -> drift.Problem:
    return drift.Problem(
        drift.PYTHON_DRIFT,
        f"{run.lock.path}: _meta.requires wants {wanted}, the venv {run.venv} has Python {have}",
        False,
    )


def _in_place(run: _Run, interp: Interpreter, problems: tuple[drift.Problem, ...]) -> Result:
    options = run.options
    interrupted = journal.interrupted(run.venv)
    if not (options.check or options.dry_run):
        scheme_dirs = [Path(p) for p in interp.scheme.values()]
        interrupted = None if not journal.recover(run.venv, interp.site_dirs, scheme_dirs, run.log) else interrupted
    installed = inventory.scan(interp.site_dirs)
    plan = _plan(run, installed, interp)
    sticky = len(run.warnings)  # warnings about the inputs: said again on a stamp hit
    pending = _pending_direct(run, plan)
    if options.check:
        reasons = [interrupted] if interrupted else []
        reasons += [p.message for p in problems] + list(_differences(plan, pending))
        reasons += [c.describe() for c in _conflicts(run, plan, interp)]
        reasons += [d.describe() for d in verify.check_all(installed, run.venv)]
        return run.result(plan, problems, out_of_sync=tuple(reasons))
    if options.repair:
        plan, pending = _with_repairs(run, plan, pending)
    if options.dry_run:
        return run.result(plan, problems, direct=_names(pending))
    if not plan.changes_nothing or pending:
        artifacts = _preflight(run, plan, interp, pending)
        stamp.remove(run.venv)  # a sync cut short must not leave a stamp saying "in sync"
        removals = [r.dist for r in plan.remove] + [d for step in plan.install for d in step.replaces]
        kept = [u.dist for u in plan.unchanged] + list(plan.extraneous) + [o.dist for o in plan.others if o.dist]
        execute.apply(
            removals,
            artifacts,
            kept,
            interp,
            run.venv,
            run.warn,
            cache_dir=run.cache_dir,
            link_mode=options.link_mode,
            repair=options.repair,  # also hashes the unpacked trees it links from
        )
        _install_direct(run, pending, interp, run.venv)
    # Checked after every change, and always under --deploy, whose promise it is.
    if (options.deploy or not plan.changes_nothing or pending) and not _conflicts_ok(run, plan, interp):
        return run.result(plan, problems, direct=_names(pending))
    _write_stamp(run, plan, interp, run.warnings[:sticky])
    return run.result(plan, problems, direct=_names(pending))


def _fresh(run: _Run, problems: tuple[drift.Problem, ...]) -> Result:
    """Bootstrap or rebuild: plan against the base interpreter, fetch, then build beside and swap in."""
    options = run.options
    rebuilding = run.venv.exists() and any(run.venv.iterdir())
    python = find_python(options.python, run.lock.requires)
    base = probe(Path(python), run.cache_dir)
    wanted = drift.requires_mismatch(run.lock.requires, base.version)
    if wanted is not None:
        message = (
            f"{run.lock.path}: _meta.requires wants {wanted}, but the interpreter to build {run.venv} with, "
            f"{python}, is Python {base.version}"
        )
        if not options.allow_python_drift:
            raise TargetError(message + "; pass --python with one that matches, or --allow-python-drift")
        run.warn(message)
    plan = _plan(run, (), base)
    sticky = len(run.warnings)
    pending = _pending_direct(run, plan)
    if options.check:
        missing = () if rebuilding else (f"{run.venv}: does not exist",)
        return run.result(plan, problems, out_of_sync=missing + tuple(p.message for p in problems))
    if options.dry_run:
        return run.result(plan, problems, direct=_names(pending))

    artifacts = _preflight(run, plan, base, pending)
    for old in leftovers(Path(os.path.realpath(run.venv))):  # ours by name: an earlier build was interrupted
        shutil.rmtree(old, ignore_errors=True)
    run.log(f"{'Rebuilding' if rebuilding else 'Creating'} virtualenv {run.venv} with {python}")
    # A venv reached through a symlink is rebuilt where it really is; the link stays.
    final = Path(os.path.realpath(run.venv))
    staging = create_beside(final, python, seed=options.seed)
    try:
        staged = probe(venv_python(staging), None)
        # Scripts must name the interpreter where the venv will live, not the staging path.
        execute.apply(
            [],
            artifacts,
            [],
            dataclasses.replace(staged, executable=str(venv_python(final))),
            staging,
            run.warn,
            cache_dir=run.cache_dir,
            link_mode=options.link_mode,
            repair=options.repair,
        )
        _install_direct(run, pending, staged, staging)
        retarget(staging, final)  # what pip wrote (scripts) names the staging path too
        swap_in(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    interp = probe(venv_python(run.venv), run.cache_dir)
    if _conflicts_ok(run, plan, interp):
        _write_stamp(run, plan, interp, run.warnings[:sticky])
    return run.result(plan, problems, created_venv=not rebuilding, rebuilt=rebuilding, direct=_names(pending))


def _with_repairs(
    run: _Run, plan: Plan, pending: list[direct.DirectRequirement]
) -> tuple[Plan, list[direct.DirectRequirement]]:
    """--repair: reinstall every kept distribution whose installed files differ from its RECORD."""
    damaged = {d.dist.metadata_dir: d for d in verify.check_all([u.dist for u in plan.unchanged], run.venv)}
    others = [o for o in plan.others if o.dist is not None and o.entry.kind in direct.DIRECT_KINDS]
    for other in others:
        assert other.dist is not None
        if (found := verify.check_dist(other.dist, run.venv)) is not None:
            damaged[other.dist.metadata_dir] = found
    for damage in damaged.values():
        run.log(f"Repairing {damage.describe()}")
    for dist in plan.extraneous:
        if (found := verify.check_dist(dist, run.venv)) is not None:
            run.warn(f"{found.describe()}; not in the lock, so not repaired")
    repair = [u for u in plan.unchanged if u.dist.metadata_dir in damaged]
    plan = dataclasses.replace(
        plan,
        install=plan.install + tuple(Install(u.package, (u.dist,)) for u in repair),
        unchanged=tuple(u for u in plan.unchanged if u.dist.metadata_dir not in damaged),
    )
    names = {r.entry.name for r in pending}
    pending = pending + [
        direct.resolve(o.entry, run.project.directory)
        for o in others
        if o.dist is not None and o.dist.metadata_dir in damaged and o.entry.name not in names
    ]
    return plan, pending


def _pending_direct(run: _Run, plan: Plan) -> list[direct.DirectRequirement]:
    """Editable, path, file and VCS entries that are not installed as the lock says."""
    pending = []
    for other in plan.others:
        if other.entry.kind in direct.DIRECT_KINDS:
            req = direct.resolve(other.entry, run.project.directory)
            if not direct.is_current(req, other.dist):
                pending.append(req)
    return pending


def _names(pending: Sequence[direct.DirectRequirement]) -> tuple[str, ...]:
    return tuple(r.entry.name for r in pending)


def _install_direct(run: _Run, pending: Sequence[direct.DirectRequirement], interp: Interpreter, venv: Path) -> None:
    if not pending:
        return
    flat = direct.flat_store_links(run.cache_dir)  # build dependencies from the store first
    try:
        direct.install(
            pending,
            interp,
            venv,
            find_links=[flat, *run.options.find_links],
            sources=run.lock.sources,
            offline=run.options.offline,
            log=run.log,
        )
    finally:
        shutil.rmtree(flat, ignore_errors=True)


def _conflicts(run: _Run, plan: Plan, interp: Interpreter) -> list[conflicts.Conflict]:
    dists = inventory.scan(interp.site_dirs)
    installed = [conflicts.Installed(d.name, d.version, tuple(inventory.requires_dist(d.metadata_dir))) for d in dists]
    extras: dict[str, tuple[str, ...]] = {s.package.name: s.package.extras for s in plan.install}
    extras.update({u.package.name: u.package.extras for u in plan.unchanged})
    extras.update({o.entry.name: o.entry.extras for o in plan.others})
    return conflicts.find_conflicts(installed, interp.markers, extras)


def _conflicts_ok(run: _Run, plan: Plan, interp: Interpreter) -> bool:
    """After a change: every installed requirement must hold. Warn, or fail under --deploy."""
    found = _conflicts(run, plan, interp)
    if not found:
        return True
    message = f"{run.venv}: {len(found)} installed requirement(s) not met: " + "; ".join(c.describe() for c in found)
    if run.options.deploy:
        raise InstallError(message + " (refused under --deploy)")
    run.warn(message)
    return False


def _plan(run: _Run, installed: Sequence[inventory.InstalledDist], interp: Interpreter) -> Plan:
    options = run.options
    entries = [entry for section in run.sections for entry in run.lock.sections[section]]
    protected = PROTECTED | set(options.keep)
    if os.path.realpath(interp.prefix) == os.path.realpath(sys.prefix):
        protected |= {SELF}  # syncing the venv this tool runs from: do not prune the tool
    if options.prune:
        from packaging.utils import canonicalize_name

        roots = {canonicalize_name(n) for n in protected}
        protected = inventory.dependency_closure(installed, roots, interp.markers) | roots
    plan = make_plan(
        entries,
        installed,
        interp.markers,
        prune=options.prune,
        protected=frozenset(protected),
        lock_label=str(run.lock.path),
    )
    _report_others(plan, options.deploy, run.lock, run.warn)
    return plan


def _preflight(
    run: _Run, plan: Plan, interp: Interpreter, pending: Sequence[direct.DirectRequirement]
) -> list[LocalArtifact]:
    """A verified, well-formed wheel for every install, or an error before anything changes."""
    direct.check_available(pending, run.options.offline, str(run.lock.path))
    from .pipcache import PipCache
    from .pipconfig import find_links_dirs

    store = Store(run.cache_dir, run.warn)
    find_links = FindLinks(run.options.find_links, run.warn, configured=find_links_dirs())
    pip_cache = PipCache.default(run.cache_dir, run.warn) if run.options.pip_cache else None
    client = None
    if not run.options.offline:
        from .fetch import IndexClient  # http, ssl and email: only when the index may be asked

        client = IndexClient(run.lock.sources, run.log)
    packages: list[LockedPackage] = [step.package for step in plan.install]
    builder = WheelBuilder(
        run.cache_dir,
        interp,
        find_links=run.options.find_links,
        sources=run.lock.sources,
        offline=run.options.offline,
        log=run.log,
    )
    artifacts = gather(
        packages,
        interp.tag_rank,
        store,
        find_links,
        client,
        run.log,
        str(run.lock.path),
        pip_cache=pip_cache,
        builder=builder,
    )
    for package in packages:
        execute.check_wheel(artifacts[package.name], package.name, run.cache_dir)
    return [artifacts[p.name] for p in packages]


def _write_stamp(run: _Run, plan: Plan, interp: Interpreter, warnings: Sequence[str]) -> None:
    if run.key is None or any(o.entry.kind == "unpinned" and o.dist is None for o in plan.others):
        return  # entries the lock cannot install are missing: not "in sync"
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
        run.key,
        run.venv,
        run.lock.path,
        run.project.pipfile,
        run.sections,
        interp.site_dirs,
        packages,
        warnings,
        inputs,
    )
    stamp.write(made)


def _differences(plan: Plan, pending: Sequence[direct.DirectRequirement]) -> tuple[str, ...]:
    reasons = [
        f"{s.package.name} {s.package.version} is not installed"
        if not s.replaces
        else f"{s.package.name} is {', '.join(d.version for d in s.replaces)}, the lock wants {s.package.version}"
        for s in plan.install
    ]
    reasons += [f"{r.dist.name} {r.dist.version} is installed but {r.reason}" for r in plan.remove]
    reasons += [f"{r.entry.name} ({r.entry.kind}) is not installed from {r.entry.source} as locked" for r in pending]
    reasons += [
        f"{o.entry.name} ({o.entry.kind}) is not installed"
        for o in plan.others
        if o.dist is None and o.entry.kind == "unpinned"
    ]
    return tuple(reasons)


def _check_freshness(project: Project, lock: Lock, deploy: bool, warn: Say) -> None:
    if not project.has_pipfile:
        warn(f"{project.pipfile}: not found; cannot tell whether {lock.path.name} is up to date")
        return
    check_lock(project.pipfile, lock.path, lock.pipfile_sha256, deploy, warn)


def _report_others(plan: Plan, deploy: bool, lock: Lock, warn: Say) -> None:
    """Entries locked without a pin or hashes ("*") whose markers are true here: the lock
    was made where they did not apply, so it cannot say what to install."""
    missing = [o.entry for o in plan.others if o.dist is None and o.entry.kind == "unpinned"]
    if not missing:
        return
    names = "; ".join(f"[{e.category}] {e.name} ({e.source})" for e in missing)
    message = f"{lock.path}: incomplete for this platform, no pinned hashes for: {names}; re-lock here (`pipenv lock`)"
    if deploy:
        raise LockError(message + " (refused under --deploy)")
    warn(message)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
