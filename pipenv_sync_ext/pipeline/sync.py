"""Entry point of a sync: the stamp's O(1) answer when it holds, else the full pipeline.

The stamp check (this module, :mod:`~pipenv_sync_ext.target.project` and
:mod:`~pipenv_sync_ext.fastpath.stamp`) imports only the standard library: a
venv already in sync costs an interpreter start, two file hashes, a few stats
and one directory listing per site directory. Everything else lives in
:mod:`~pipenv_sync_ext.pipeline.run`, imported only when there is work to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pipenv_sync_ext.fastpath import identity, stamp
from pipenv_sync_ext.pipeline.offline import forbid_network
from pipenv_sync_ext.pipeline.options import Options, Result
from pipenv_sync_ext.target.project import Project, find_project, locate_venv

if TYPE_CHECKING:
    from pipenv_sync_ext.feedback import Progress


def sync(
    options: Options, warn: Callable[[str], None], *, log: Callable[[str], None], progress: Progress | None = None
) -> Result:
    """``progress``: where downloads and phases are shown (None: the plain lines of ``log``)."""
    started = time.perf_counter()
    if options.offline:
        forbid_network()
    project = find_project(options.project_dir, lockfile=options.lockfile)
    venv = Path(os.path.abspath(options.venv or locate_venv(project)))
    key = stamp_key(project, options)
    if key is not None and not (options.rebuild or options.dry_run or options.verify or options.repair):
        hit = stamp.read(venv)
        if hit is not None and stamp.still_valid(hit, key, venv):
            for message in hit.warnings:
                warn(message)
            return Result(
                plan=None,
                venv=venv,
                lock=project.lockfile,
                sections=hit.sections,
                dry_run=False,
                elapsed=time.perf_counter() - started,
                warnings=hit.warnings,
                stamp_hit=True,
                packages=hit.packages,
            )
    from pipenv_sync_ext.store import pagememo

    pagememo.open_run()  # the status check and the listing fetch each page once (store/pagememo.py)
    try:
        from pipenv_sync_ext.pipeline.run import run_pipeline

        return run_pipeline(
            project=project, venv=venv, key=key, options=options, warn=warn, log=log, started=started, progress=progress
        )
    finally:
        pagememo.close_run()


def stamp_key(project: Project, options: Options) -> stamp.Key | None:
    lock_sha = stamp.file_sha256(project.lockfile)
    if lock_sha is None:
        return None  # the pipeline says what is wrong with the lock
    selection = tuple(identity.selection_of(options.dev, options.categories, options.all_sections))
    return stamp.Key(
        lock_sha256=lock_sha,
        pipfile_sha256=stamp.file_sha256(project.pipfile) if project.has_pipfile else None,
        selection=selection,
        prune=options.prune,
        keep=tuple(sorted(options.keep)),
        deploy=options.deploy,
        allow_python_drift=options.allow_python_drift,
    )
