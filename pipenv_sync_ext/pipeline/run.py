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
from collections.abc import Mapping
from pathlib import Path

from pipenv_sync_ext.errors import SyncError, TargetError
from pipenv_sync_ext.fastpath import stamp
from pipenv_sync_ext.fastpath.lockchoice import is_pylock
from pipenv_sync_ext.feedback import Progress, Say
from pipenv_sync_ext.lock import compiled, evaluated
from pipenv_sync_ext.lock.evaluated import recall, remember
from pipenv_sync_ext.lock.mirror import with_mirror
from pipenv_sync_ext.lock.model import Lock
from pipenv_sync_ext.pipeline import withdrawn
from pipenv_sync_ext.pipeline.context import Run
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

    evaluated.discard()  # nothing an earlier run in this process left unwritten (it failed)
    cache_dir = options.cache_dir or default_cache_dir()
    lock, sections = _selected_lock(project, key, options, warn=_warn, cache_dir=cache_dir)
    if not options.lock_sources:  # --no-lock-sources: only the store, find-links and the mirrors
        lock = dataclasses.replace(lock, sources=(), urls={})
    for directory in options.find_links:
        if not directory.is_dir():
            raise SyncError(
                f"--find-links {directory}: no such directory",
                hint="give a directory of wheels (a `pipenv-sync fetch --wheelhouse` output), or drop the option",
            )
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
        try:
            result = withdrawn.judged(gate, run, _run)
        except BaseException:
            evaluated.discard()  # a refused sync adds nothing to the store but verified artifacts
            raise
    evaluated.flush()  # the compiled lock and the answers remembered (lock/evaluated.py)
    return result


def _build_fresh(run: Run, problems: tuple[drift.Problem, ...]) -> Result:
    # Imported only to build a venv: a sync in place does not pay for discovery and venv creation.
    from pipenv_sync_ext.pipeline.fresh import build_fresh as build

    return build(run, problems)


def _run(run: Run) -> Result:
    venv, options, log = run.venv, run.options, run.log

    if venv.exists() and not venv.is_dir():
        raise TargetError(
            f"{venv}: is not a directory; not a virtualenv", hint="point --venv at a virtualenv, or move the file away"
        )
    if not venv.exists() or not any(venv.iterdir()):
        return _build_fresh(run, ())
    if not (options.check or options.dry_run) and interrupted_swap(Path(os.path.realpath(venv))):
        log(f"{venv}: an earlier rebuild was interrupted while its contents were swapped; rebuilding it")
        return _build_fresh(run, ())
    problems = list(drift.inspect_venv(venv, prune=options.prune))
    if any(p.code == drift.NO_PYVENV_CFG for p in problems):
        if options.check:
            return run.result(None, tuple(problems), out_of_sync=tuple(p.message for p in problems))
        raise TargetError(
            f"{venv}: not a virtualenv (no pyvenv.cfg); pipenv-sync only changes virtualenvs",
            hint="point --venv at a virtualenv, or remove this directory and sync again to create one",
        )
    if options.rebuild:
        return _build_fresh(run, tuple(problems))

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
        wanted = _requires_mismatch(run, interp.version, interp.markers)
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
        return _build_fresh(run, tuple(problems))
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
        f"{run.lock.path}: {'' if is_pylock(str(run.lock.path)) else '_meta.requires '}wants {wanted}, "
        f"the venv {run.venv} has Python {have}",
        False,
    )


def _selected_lock(
    project: Project, key: stamp.Key | None, options: Options, *, warn: Say, cache_dir: Path
) -> tuple[Lock, tuple[str, ...]]:
    """The lock as this run sees it and the sections to sync: from the compiled lock in the store
    when it checks out (``lock/compiled.py``), else loaded, checked and selected, and compiled."""
    pipfile = project.pipfile if project.has_pipfile else None
    inputs = None
    if key is not None and not is_pylock(str(project.lockfile)):
        inputs = compiled.key_inputs(
            project.lockfile,
            key.lock_sha256,
            pipfile=pipfile,
            pipfile_sha256=key.pipfile_sha256,
            selection=key.selection,
        )
        hit = compiled.load(cache_dir, inputs, project.lockfile)
        if hit is not None:
            for note in hit.notes:
                warn(note)
            sources = with_mirror(hit.lock.sources, options.pypi_mirror)
            if hit.fresh is None:
                _check_freshness(project, hit.lock, options.deploy, warn)
            elif not hit.fresh and pipfile is not None:
                from pipenv_sync_ext.lock.freshness import report_stale

                report_stale(pipfile=pipfile, lock_path=hit.lock.path, deploy=options.deploy, warn=warn)
            return dataclasses.replace(hit.lock, sources=sources), hit.sections
    from pipenv_sync_ext.lock.choose import load_lock
    from pipenv_sync_ext.lock.selection import select

    notes: list[str] = []

    def noting(message: str) -> None:
        notes.append(message)
        warn(message)

    lock = load_lock(project.lockfile, warn=noting)
    sources = with_mirror(lock.sources, options.pypi_mirror)
    fresh = _check_freshness(project, lock, options.deploy, warn)
    lock, sections = select(
        lock, pipfile, dev=options.dev, categories=options.categories, all_sections=options.all_sections
    )
    if inputs is not None:
        compiled.save(cache_dir, inputs, compiled.Compiled(lock, sections, tuple(notes), fresh))
    return dataclasses.replace(lock, sources=sources), sections


def _check_freshness(project: Project, lock: Lock, deploy: bool, warn: Say) -> bool | None:
    """Warn (or refuse under --deploy) when the lock is stale; whether it is fresh, when the
    store may remember that (the Pipfile names its sources: ``lock/compiled.py``), else None."""
    if is_pylock(str(lock.path)):
        return None  # a pylock.toml records no Pipfile hash (pipenv writes it from Pipfile.lock)
    if not project.has_pipfile:
        warn(f"{project.pipfile}: not found; cannot tell whether {lock.path.name} is up to date")
        return None
    from pipenv_sync_ext.lock.freshness import is_stale, report_stale
    from pipenv_sync_ext.lock.schema import load_toml

    stale = is_stale(project.pipfile, lock.pipfile_sha256)
    if stale:
        report_stale(pipfile=project.pipfile, lock_path=lock.path, deploy=deploy, warn=warn)
    try:
        own_sources = "source" in load_toml(project.pipfile, what="Pipfile")
    except SyncError:
        own_sources = False
    return not stale if own_sources else None


def _requires_mismatch(run: Run, version: str, markers: Mapping[str, str]) -> str | None:
    """drift.requires_mismatch, remembered in the store for these requires and this interpreter
    (it parses specifiers with ``packaging``: a repeat run need not import it)."""
    key = {"requires": dict(run.lock.requires), "version": version, "environment": dict(markers)}
    known = recall(run.cache_dir, "requires", key=key, valid=lambda v: isinstance(v, list) and len(v) == 1)
    if known is not None and (known[0] is None or isinstance(known[0], str)):
        return known[0]
    wanted = drift.requires_mismatch(run.lock.requires, version, environment=markers)
    remember(run.cache_dir, "requires", key=key, value=[wanted])
    return wanted


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
