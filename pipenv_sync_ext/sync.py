"""Entry point of a sync: the stamp's O(1) answer when it holds, else the full pipeline.

The fast path (this module, :mod:`.project` and :mod:`.stamp`) imports only the
standard library: a venv already in sync costs an interpreter start, two file
hashes, a few stats and one directory listing per site directory. Everything
else lives in :mod:`.pipeline`, imported only when there is work to do.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import noop, stamp
from .errors import OfflineViolation
from .project import Project, find_project, locate_venv

if TYPE_CHECKING:
    from .drift import Problem
    from .plan import Plan


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
    check: bool = False  # report whether the venv is in sync; change nothing, fetch nothing
    verify: bool = False  # with check: never answer from the stamp (every installed file is hashed)
    repair: bool = False  # reinstall kept distributions whose files differ from their RECORD
    deploy: bool = False
    keep: tuple[str, ...] = ()
    find_links: tuple[Path, ...] = ()
    pip_cache: bool = True  # also take artifacts from pip's (and pipenv's) HTTP cache
    cache_dir: Path | None = None
    rebuild: bool = False
    rebuild_on_drift: bool = False  # rebuild, instead of failing, when the venv is broken or drifted
    allow_python_drift: bool = False
    seed: bool = False  # give a new venv pip
    lock_timeout: float = 600.0  # seconds to wait for another sync of the same venv
    link_mode: str = "auto"  # how installed files come from the store: auto, clone, hardlink, copy or installer


@dataclass(frozen=True)
class Result:
    plan: Plan | None  # None when the stamp answered (nothing was planned)
    venv: Path
    lock: Path
    sections: tuple[str, ...]
    dry_run: bool
    elapsed: float
    created_venv: bool = False
    warnings: tuple[str, ...] = field(default=())
    rebuilt: bool = False
    problems: tuple[Problem, ...] = ()  # found in the venv (fixed by the rebuild when rebuilt)
    stamp_hit: bool = False
    packages: tuple[tuple[str, str], ...] = ()  # what the stamp says is installed, on a stamp hit
    out_of_sync: tuple[str, ...] = ()  # --check: why the venv does not match the lock
    direct: tuple[str, ...] = ()  # editable/path/file/VCS entries (re)installed through pip

    @property
    def changed(self) -> bool:
        if self.plan is None or self.dry_run:
            return False
        return not self.plan.changes_nothing or bool(self.direct) or self.created_venv or self.rebuilt


def sync(options: Options, warn: Callable[[str], None], log: Callable[[str], None]) -> Result:
    started = time.perf_counter()
    if options.offline:
        forbid_network()
    project = find_project(options.project_dir)
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
    from .pipeline import run_pipeline

    return run_pipeline(project, venv, key, options, warn, log, started)


def stamp_key(project: Project, options: Options) -> stamp.Key | None:
    lock_sha = stamp.file_sha256(project.lockfile)
    if lock_sha is None:
        return None  # the pipeline says what is wrong with the lock
    selection = tuple(noop.selection_of(options.dev, options.categories, options.all_sections))
    return stamp.Key(
        lock_sha256=lock_sha,
        pipfile_sha256=stamp.file_sha256(project.pipfile) if project.has_pipfile else None,
        selection=selection,
        prune=options.prune,
        keep=tuple(sorted(options.keep)),
        deploy=options.deploy,
        allow_python_drift=options.allow_python_drift,
    )


def forbid_network() -> None:
    """Make ``--offline`` a guarantee: any socket connect in this process raises.

    An audit hook is process-wide and cannot be removed: fine for the CLI, which
    is one sync per process; a library caller gets an offline process.
    """

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in ("socket.connect", "socket.getaddrinfo"):
            raise OfflineViolation(f"--offline: refused a network connection ({event} {args[1:2]!r})")

    sys.addaudithook(hook)
