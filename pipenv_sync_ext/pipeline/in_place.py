"""Sync an existing venv in place: recover, plan against what is installed, preflight, then change it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from pipenv_sync_ext.errors import SyncError
from pipenv_sync_ext.fastpath import stamp
from pipenv_sync_ext.install import direct, execute, journal, verify
from pipenv_sync_ext.install.preflight import check_targets
from pipenv_sync_ext.lock.names import canonical_name
from pipenv_sync_ext.pipeline.bytecode import compile_step
from pipenv_sync_ext.pipeline.context import Run
from pipenv_sync_ext.pipeline.options import Result
from pipenv_sync_ext.pipeline.steps import (
    conflicts_ok,
    find_conflicts,
    install_direct,
    names,
    not_in_store,
    pending_direct,
    plan_for,
    preflight,
    write_stamp,
)
from pipenv_sync_ext.plan import Install, Plan
from pipenv_sync_ext.target import drift, inventory
from pipenv_sync_ext.target.interpreter import Interpreter


def sync_in_place(run: Run, interp: Interpreter, problems: tuple[drift.Problem, ...]) -> Result:
    options = run.options
    interrupted = journal.interrupted(run.venv)
    if not (options.check or options.dry_run):
        scheme_dirs = [Path(p) for p in interp.scheme.values()]
        recovered = journal.recover(run.venv, site_dirs=interp.site_dirs, scheme_dirs=scheme_dirs, log=run.log)
        interrupted = interrupted if recovered else None
    installed = inventory.scan(interp.site_dirs)
    plan = plan_for(run, installed, interp)
    sticky = len(run.warnings)  # warnings about the inputs: said again on a stamp hit
    pending = pending_direct(run, plan)
    if options.check:
        reasons = [interrupted] if interrupted else []
        reasons += [p.message for p in problems] + list(_differences(plan, pending))
        reasons += [c.describe() for c in find_conflicts(run, plan, interp)]
        reasons += [d.describe() for d in verify.check_all(installed, run.venv)]
        return run.result(plan, problems, out_of_sync=tuple(reasons), download=not_in_store(run, plan))
    if options.repair:
        plan, pending = _with_repairs(run, plan, pending)
    if options.dry_run:
        return run.result(plan, problems, direct=names(pending), download=not_in_store(run, plan))
    if not plan.changes_nothing or pending:
        prepared = preflight(run, plan, interp=interp, pending=pending)
        removals = [r.dist for r in plan.remove] + [d for step in plan.install for d in step.replaces]
        kept = [u.dist for u in plan.unchanged] + list(plan.extraneous) + [o.dist for o in plan.others if o.dist]

        def prepare() -> execute.Changes:
            # Where each wheel would write, against the venv as it is, every unpacked tree and every
            # removal planned: refused while the stamp still stands, and read-only on the venv.
            return execute.prepare(
                removals=removals,
                installs=prepared.artifacts,
                kept=kept,
                interpreter=interp,
                venv=run.venv,
                warn=run.warn,
                cache_dir=run.cache_dir,
                link_mode=options.link_mode,
                progress=run.progress,
                repair=options.repair,  # also hashes the unpacked trees it links from
            )

        # Before the gate, so that this work, not an idle wait, overlaps the status requests. With
        # direct entries pip installs first and what it installs is kept, so their removals are
        # planned after it; only where the wheels write is checked now.
        changes = None if pending else prepare()
        if pending:
            check_targets(prepared.artifacts, interpreter=interp, venv=run.venv, removals=removals)
        run.gate(plan)  # withdrawn files: decided after the downloads and the preparation it overlapped
        stamp.remove(run.venv)  # a sync cut short must not leave a stamp saying "in sync"
        if pending:
            # pip first: a direct entry that fails to build fails before any removal of ours (pip
            # restores what it uninstalled itself). What it installed is kept by the removals below.
            install_direct(run, pending, prepared=prepared, interp=interp, venv=run.venv)
            built = {canonical_name(r.entry.name) for r in pending}
            kept += [d for d in inventory.scan(interp.site_dirs) if d.name in built]
        try:
            execute.carry_out(
                changes or prepare(),
                interpreter=interp,
                venv=run.venv,
                warn=run.warn,
                progress=run.progress,
            )
        except (SyncError, OSError):
            # A clean failure (a full disk, a wheel refused) left every install undone or whole:
            # no journal, unless a removal was cut short, so --check does not report an interruption.
            journal.settle(run.venv, site_dirs=interp.site_dirs)
            raise
        if options.compile:
            compile_step(run, plan, pending=pending, interp=interp, venv=run.venv)
    # Checked after every change, and always under --deploy, whose promise it is.
    if (options.deploy or not plan.changes_nothing or pending) and not conflicts_ok(run, plan, interp):
        return run.result(plan, problems, direct=names(pending))
    write_stamp(run, plan, interp=interp, warnings=run.warnings[:sticky])
    return run.result(plan, problems, direct=names(pending))


def _with_repairs(
    run: Run, plan: Plan, pending: list[direct.DirectRequirement]
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
