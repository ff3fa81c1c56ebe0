"""What a sync is asked to do (:class:`Options`) and what it did (:class:`Result`).

Values only, below every module that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipenv_sync_ext.plan import Plan
    from pipenv_sync_ext.store.status import StatusReport
    from pipenv_sync_ext.target.drift import Problem


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
    find_links_urls: tuple[str, ...] = ()  # remote find-links pages (store/mirrors.py)
    index_url: str | None = None  # a mirror of every lock source, asked before them (store/mirrors.py)
    extra_index_urls: tuple[str, ...] = ()  # more mirrors, after index_url
    lock_sources: bool = True  # False: the lock's own sources (and file URLs) are never asked (--no-lock-sources)
    pip_cache: bool = True  # also take artifacts from pip's (and pipenv's) HTTP cache
    cache_dir: Path | None = None
    rebuild: bool = False
    rebuild_on_drift: bool = False  # rebuild, instead of failing, when the venv is broken or drifted
    allow_python_drift: bool = False
    seed: bool = False  # give a new venv pip
    lock_timeout: float = 600.0  # seconds to wait for another sync of the same venv
    lockfile: Path | None = None  # --lockfile: instead of the project's (fastpath/lockchoice.py)
    link_mode: str = "auto"  # how installed files come from the store: auto, clone, hardlink, copy or installer
    compile: bool = False  # byte-compile what the sync installs (install/compile.py)
    pypi_mirror: str | None = None  # replaces the lock's pypi.org sources (lock/mirror.py)
    allow_yanked: tuple[str, ...] = ()  # yanked files of these projects pass under --deploy (pipeline/withdrawn.py)
    status_max_age: float = 7 * 86400.0  # seconds: an older cached index status is said to be old
    require_fresh_status: bool = False  # a stale or missing index status is an error
    verbose: bool = False  # -v: also how the run went about it (the status check's child: pipeline/statusfork.py)


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
    status: StatusReport | None = None  # what the index said of the locked files (pipeline/withdrawn.py)
    # --dry-run/--check: what a sync would do beyond the plan's steps
    would_create_venv: bool = False  # the venv does not exist
    would_rebuild: bool = False  # the venv would be rebuilt (--rebuild, a broken or drifted venv)
    python: str | None = None  # the interpreter a new or rebuilt venv is (or would be) made with, and its version
    download: tuple[str, ...] = ()  # packages to install that no allowed file in the store or --find-links covers
    offline: bool = False
    not_in_lock: tuple[str, ...] = ()  # without --prune: installed, not in the lock, and what --prune would remove

    @property
    def changed(self) -> bool:
        if self.plan is None or self.dry_run:
            return False
        return not self.plan.changes_nothing or bool(self.direct) or self.created_venv or self.rebuilt

    @property
    def would_change(self) -> bool:
        """--dry-run/--check: whether a sync would change anything (the JSON's ``in_sync`` is its negation)."""
        if self.plan is None:
            return bool(self.out_of_sync)
        return (
            bool(self.out_of_sync)
            or not self.plan.changes_nothing
            or bool(self.direct)
            or self.would_create_venv
            or self.would_rebuild
        )
