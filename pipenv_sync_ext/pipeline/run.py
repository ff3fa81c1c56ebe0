"""The full pipeline: lock -> target -> inventory -> plan -> store/fetch -> execute -> stamp.

Each stage is its own module; this one wires them together, in order, and holds
the two rules that span stages:

* nothing in the environment changes before every artifact is in hand and
  checked (preflight), and nothing changes at all under ``--dry-run`` or
  ``--check``;
* a venv that cannot be synced in place (missing, broken, moved, drifted) is
  built beside the target and swapped in only once complete (:mod:`~pipenv_sync_ext.target.venv`), so
  a failed build leaves the old venv untouched.

Its order is for speed: the lock is read and the index status check started
(``pipeline/statusfork.py``) before the other stages are even imported, so
their imports and the requests overlap; :mod:`~pipenv_sync_ext.pipeline.route`
then routes the run by the venv's state.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pipenv_sync_ext.errors import SyncError
from pipenv_sync_ext.fastpath import stamp
from pipenv_sync_ext.fastpath.lockchoice import is_pylock
from pipenv_sync_ext.feedback import Progress, Say
from pipenv_sync_ext.lock import compiled, evaluated
from pipenv_sync_ext.lock.mirror import with_mirror
from pipenv_sync_ext.lock.model import Lock
from pipenv_sync_ext.pipeline import statusfork
from pipenv_sync_ext.pipeline.options import Options, Result
from pipenv_sync_ext.redact import redact
from pipenv_sync_ext.store.cas import default_cache_dir
from pipenv_sync_ext.target.project import Project


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
    # The status check starts here, before the rest of the pipeline is imported (pipeline/statusfork.py).
    forked = statusfork.launch(lock=lock, sections=sections, options=options, cache_dir=cache_dir)
    try:
        return _gated(
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
            forked=forked,
        )
    finally:
        if forked is not None:
            forked.close()


def _gated(*, forked: statusfork.ForkedCheck | None, **fields: Any) -> Result:
    """The run, decided by its gate: the stages are imported only now, beside the status requests."""
    from pipenv_sync_ext.pipeline import withdrawn
    from pipenv_sync_ext.pipeline.context import Run
    from pipenv_sync_ext.pipeline.route import route
    from pipenv_sync_ext.target import venvlock

    run = Run(**fields)
    options, venv, cache_dir, log = run.options, run.venv, run.cache_dir, run.log
    run.gate = gate = withdrawn.start_gate(run, forked=forked)
    # --check and --dry-run read the venv: shared, so they wait for a running sync, not for each other.
    reading = options.check or options.dry_run
    with venvlock.holding(venv, cache_dir=cache_dir, timeout=options.lock_timeout, log=log, shared=reading):
        try:
            result = withdrawn.judged(gate, run, route)
        except BaseException:
            evaluated.discard()  # a refused sync adds nothing to the store but verified artifacts
            raise
    evaluated.flush()  # the compiled lock and the answers remembered (lock/evaluated.py)
    return result


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
