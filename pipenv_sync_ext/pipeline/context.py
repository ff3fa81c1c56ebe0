"""What every step of one sync run needs, built once by :func:`pipenv_sync_ext.pipeline.run.run_pipeline`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.fastpath import stamp
from pipenv_sync_ext.feedback import Progress, Say
from pipenv_sync_ext.lock.model import Lock
from pipenv_sync_ext.pipeline.options import Options, Result
from pipenv_sync_ext.plan import Plan
from pipenv_sync_ext.target import drift
from pipenv_sync_ext.target.project import Project


def not_in_lock_note(names: Sequence[str]) -> str | None:
    """Issue 12: packages kept without a word were a surprise; say how many, and what removes them."""
    return f"{len(names)} installed package(s) are not in the lock; --prune removes them" if names else None


@dataclass
class Run:
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
    # the withdrawn-file policy (pipeline/withdrawn.py), called before the first change to the venv
    gate: Callable[[Plan | None], None] = lambda _plan: None
    progress: Progress | None = None  # None: downloads as plain lines through log, phases unseen

    def result(
        self,
        plan: Plan | None,
        problems: tuple[drift.Problem, ...],
        *,
        out_of_sync: tuple[str, ...] = (),
        created_venv: bool = False,
        rebuilt: bool = False,
        direct: tuple[str, ...] = (),
        python: str | None = None,
        download: tuple[str, ...] = (),
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
            python=python,
            download=download,
            offline=self.options.offline,
            not_in_lock=self.prunable(plan),
        )

    def prunable(self, plan: Plan | None) -> tuple[str, ...]:
        """Without --prune: the kept packages --prune would remove (pip and the like, and --keep, it spares)."""
        if plan is None or self.options.prune:
            return ()
        from packaging.utils import canonicalize_name

        from pipenv_sync_ext.plan import PROTECTED

        spared = PROTECTED | {canonicalize_name(n) for n in self.options.keep} | {"pipenv-sync-ext"}
        return tuple(sorted({d.name for d in plan.extraneous} - spared))
