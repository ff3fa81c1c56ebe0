"""The full pipeline: lock -> target -> inventory -> plan -> store/fetch -> execute -> stamp.

Each stage is its own module; this one wires them together, in order, and holds
the two rules that span stages:

* nothing in the environment changes before every artifact is in hand and
  checked (preflight), and nothing changes at all under ``--dry-run`` or
  ``--check``;
* a venv that cannot be synced in place (missing, broken, moved, drifted) is
  built beside the target and swapped in only once complete (:mod:`~pipenv_sync_ext.target.venv`), so
  a failed build leaves the old venv untouched.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from pipenv_sync_ext.errors import SyncError, TargetError
from pipenv_sync_ext.fastpath import stamp
from pipenv_sync_ext.feedback import Progress, Say
from pipenv_sync_ext.lock.choose import is_pylock_lock, load_lock
from pipenv_sync_ext.lock.freshness import check_lock
from pipenv_sync_ext.lock.mirror import with_mirror
from pipenv_sync_ext.lock.model import Lock
from pipenv_sync_ext.lock.selection import select
from pipenv_sync_ext.pipeline import withdrawn
from pipenv_sync_ext.pipeline.context import Run
from pipenv_sync_ext.pipeline.fresh import build_fresh
from pipenv_sync_ext.pipeline.in_place import sync_in_place
from pipenv_sync_ext.pipeline.options import Options, Result
from pipenv_sync_ext.redact import redact
from pipenv_sync_ext.store.cas import default_cache_dir
from pipenv_sync_ext.target import drift, venvlock
from pipenv_sync_ext.target.interpreter import probe, venv_python
from pipenv_sync_ext.target.project import Project
from pipenv_sync_ext.target.venv import interrupted_swap


def run_pipeline(
    *,
    project: Project,
    venv: Path,
    key: stamp.Key | None,
    options: Options,
    warn: Say,
    log: Say,
    started: float,
    progress: Progress | None = None,
) -> Result:
    warnings: list[str] = []

    def _warn(message: str) -> None:
        warnings.append(redact(message))  # kept in the stamp: a later process has not registered its secrets
        warn(message)

    lock = load_lock(project.lockfile, warn=_warn)
    lock = dataclasses.replace(lock, sources=with_mirror(lock.sources, options.pypi_mirror))
    if not options.lock_sources:  # --no-lock-sources: only the store, find-links and the mirrors
        lock = dataclasses.replace(lock, sources=(), urls={})
    _check_freshness(project, lock, options.deploy, _warn)
    pipfile = project.pipfile if project.has_pipfile else None
    lock, sections = select(
        lock, pipfile, dev=options.dev, categories=options.categories, all_sections=options.all_sections
    )
    for directory in options.find_links:
        if not directory.is_dir():
            raise SyncError(
                f"--find-links {directory}: no such directory",
                hint="give a directory of wheels (a `pipenv-sync fetch --wheelhouse` output), or drop the option",
            )
    cache_dir = options.cache_dir or default_cache_dir()
    run = Run(
        project=project,
        venv=venv,
        key=key,
        options=options,
        lock=lock,
        sections=sections,
        cache_dir=cache_dir,
        warn=_warn,
        log=log,
        warnings=warnings,
        started=started,
        progress=progress,
    )
    run.gate = gate = withdrawn.start_gate(run)
    # --check and --dry-run read the venv: shared, so they wait for a running sync, not for each other.
    reading = options.check or options.dry_run
    with venvlock.holding(venv, cache_dir=cache_dir, timeout=options.lock_timeout, log=log, shared=reading):
        return withdrawn.judged(gate, run, _run)


def _run(run: Run) -> Result:
    venv, options, lock, log = run.venv, run.options, run.lock, run.log

    if venv.exists() and not venv.is_dir():
        raise TargetError(
            f"{venv}: is not a directory; not a virtualenv", hint="point --venv at a virtualenv, or move the file away"
        )
    if not venv.exists() or not any(venv.iterdir()):
        return build_fresh(run, ())
    if not (options.check or options.dry_run) and interrupted_swap(Path(os.path.realpath(venv))):
        log(f"{venv}: an earlier rebuild was interrupted while its contents were swapped; rebuilding it")
        return build_fresh(run, ())
    problems = list(drift.inspect_venv(venv, prune=options.prune))
    if any(p.code == drift.NO_PYVENV_CFG for p in problems):
        if options.check:
            return run.result(None, tuple(problems), out_of_sync=tuple(p.message for p in problems))
        raise TargetError(
            f"{venv}: not a virtualenv (no pyvenv.cfg); pipenv-sync only changes virtualenvs",
            hint="point --venv at a virtualenv, or remove this directory and sync again to create one",
        )
    if options.rebuild:
        return build_fresh(run, tuple(problems))

    interp = None
    if not any(p.breaks_venv for p in problems):
        interp = probe(venv_python(venv), run.cache_dir)
        if os.path.realpath(interp.prefix) == os.path.realpath(interp.base_prefix):
            raise TargetError(
                f"{venv}: its interpreter is not a virtualenv's (sys.prefix is the base prefix)",
                hint="point --venv at a virtualenv, or --rebuild to make this one",
            )
        upgraded = drift.base_upgraded(venv, interp.version)
        if upgraded is not None:
            problems.append(upgraded)
        wanted = drift.requires_mismatch(lock.requires, interp.version, environment=interp.markers)
        if wanted is not None:
            problems.append(_drift_problem(run, wanted, interp.version))

    if options.check:
        if interp is None:
            return run.result(None, tuple(problems), out_of_sync=tuple(p.message for p in problems))
        return sync_in_place(run, interp, tuple(problems))
    allowed = [p for p in problems if p.code == drift.PYTHON_DRIFT and options.allow_python_drift]
    if len(allowed) < len(problems) and (options.rebuild_on_drift or _env_flag("PIPENV_SYNC_REBUILD")):
        for p in problems:
            log(f"Rebuilding: {p.message}")
        return build_fresh(run, tuple(problems))
    fatal = [p for p in problems if p.breaks_venv or (p.code == drift.PYTHON_DRIFT and p not in allowed)]
    if fatal:
        reasons = "; ".join(p.message for p in fatal)
        hint = "run again with --rebuild to recreate it from the store"
        if any(p.code == drift.PYTHON_DRIFT for p in fatal):
            hint += " (add --python X.Y to choose the interpreter), or --allow-python-drift to sync it anyway"
        raise TargetError(reasons, hint=hint)
    for p in problems:
        run.warn(p.message)
    assert interp is not None
    return sync_in_place(run, interp, tuple(problems))


def _drift_problem(run: Run, wanted: str, have: str) -> drift.Problem:
    return drift.Problem(
        drift.PYTHON_DRIFT,
        f"{run.lock.path}: {'' if is_pylock_lock(run.lock) else '_meta.requires '}wants {wanted}, "
        f"the venv {run.venv} has Python {have}",
        False,
    )


def _check_freshness(project: Project, lock: Lock, deploy: bool, warn: Say) -> None:
    if is_pylock_lock(lock):
        return  # a pylock.toml records no Pipfile hash (pipenv writes it from Pipfile.lock)
    if not project.has_pipfile:
        warn(f"{project.pipfile}: not found; cannot tell whether {lock.path.name} is up to date")
        return
    check_lock(
        pipfile=project.pipfile, lock_path=lock.path, pipfile_sha256=lock.pipfile_sha256, deploy=deploy, warn=warn
    )


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
