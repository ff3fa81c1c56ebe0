"""Bootstrap or rebuild: plan against the base interpreter, fetch, then build beside the target and swap in.

A new venv is never built in place: a failed or interrupted build leaves the
old venv exactly as it was (:mod:`pipenv_sync_ext.target.venv`). A venv that is
a mount point is built inside itself and swapped in by contents; the lock
passes to the new directory before it is swapped in (:func:`~pipenv_sync_ext.target.venvlock.adopt`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from pipenv_sync_ext.errors import TargetError
from pipenv_sync_ext.install import execute
from pipenv_sync_ext.lock.choose import is_pylock_lock
from pipenv_sync_ext.pipeline.bytecode import compile_step
from pipenv_sync_ext.pipeline.context import Run
from pipenv_sync_ext.pipeline.options import Result
from pipenv_sync_ext.pipeline.steps import (
    conflicts_ok,
    install_direct,
    names,
    not_in_store,
    pending_direct,
    plan_for,
    preflight,
    write_stamp,
)
from pipenv_sync_ext.target import drift, venvlock
from pipenv_sync_ext.target.discovery import find_python
from pipenv_sync_ext.target.interpreter import probe, venv_python
from pipenv_sync_ext.target.venv import create_beside, interrupted_swap, leftovers, remove_tree, retarget, swap_in


def build_fresh(run: Run, problems: tuple[drift.Problem, ...]) -> Result:
    """Bootstrap or rebuild: plan against the base interpreter, fetch, then build beside and swap in."""
    options = run.options
    rebuilding = run.venv.exists() and any(run.venv.iterdir())
    python = find_python(options.python, run.lock.requires)
    base = probe(Path(python), run.cache_dir)
    wanted = drift.requires_mismatch(run.lock.requires, base.version, environment=base.markers)
    if wanted is not None:
        what = "" if is_pylock_lock(run.lock) else "_meta.requires "  # a pylock.toml's keys say what they are
        message = (
            f"{run.lock.path}: {what}wants {wanted}, but the interpreter to build {run.venv} with, "
            f"{python}, is Python {base.version}"
        )
        if not options.allow_python_drift:
            raise TargetError(message, hint="pass --python with one that matches, or --allow-python-drift")
        run.warn(message)
    plan = plan_for(run, (), base)
    sticky = len(run.warnings)
    pending = pending_direct(run, plan)
    # The interpreter itself, not the pyenv/asdf shim or symlink that found it.
    real = os.path.realpath(base.base_executable or python)
    with_python = f"{real} (Python {base.version})"
    if options.check or options.dry_run:
        # What a sync would do: make or remake the venv with this interpreter, download what the store lacks.
        if options.check:
            missing = () if rebuilding else (f"{run.venv}: does not exist (a sync creates it with {with_python})",)
            told = run.result(plan, problems, out_of_sync=missing + tuple(p.message for p in problems))
        else:
            told = run.result(plan, problems, direct=names(pending))
        return dataclasses.replace(
            told,
            would_create_venv=not rebuilding,
            would_rebuild=rebuilding,
            python=with_python,
            download=not_in_store(run, plan),
        )

    prepared = preflight(run, plan, interp=base, pending=pending)
    resuming = interrupted_swap(Path(os.path.realpath(run.venv)))
    for old in leftovers(Path(os.path.realpath(run.venv))):  # ours by name: an earlier build was interrupted
        remove_tree(old)
    run.log(f"{'Rebuilding' if rebuilding else 'Creating'} virtualenv {run.venv} with {with_python}")
    # A venv reached through a symlink is rebuilt where it really is; the link stays.
    final = Path(os.path.realpath(run.venv))
    staging, staged = create_beside(final, python, seed=options.seed, base=base, say=run.log)
    try:
        # Scripts must name the interpreter where the venv will live, not the staging path.
        placed = dataclasses.replace(staged, executable=str(venv_python(final)))
        changes = execute.prepare(
            removals=[],
            installs=prepared.artifacts,
            kept=[],
            interpreter=placed,
            venv=staging,
            warn=run.warn,
            cache_dir=run.cache_dir,
            link_mode=options.link_mode,
            progress=run.progress,
            repair=options.repair,
        )
        execute.carry_out(changes, interpreter=placed, venv=staging, warn=run.warn, progress=run.progress)
        install_direct(run, pending, prepared=prepared, interp=staged, venv=staging)
        if options.compile:
            compile_step(run, plan, pending=pending, interp=staged, venv=staging, final=final)
        retarget(staging, final)  # what pip wrote (scripts) names the staging path too
        run.gate(plan)  # withdrawn files: the build beside overlapped the status check; the venv is not yet changed
        venvlock.adopt(staging)  # held once it is the venv: a waiting sync must not slip in before the stamp
        swap_in(staging, final, resuming=resuming)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    interp = probe(venv_python(run.venv), run.cache_dir)
    if conflicts_ok(run, plan, interp):
        write_stamp(run, plan, interp=interp, warnings=run.warnings[:sticky])
    return run.result(
        plan, problems, created_venv=not rebuilding, rebuilt=rebuilding, direct=names(pending), python=with_python
    )
