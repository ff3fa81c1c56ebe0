"""``--compile`` as a step of a sync: after the installs, before the stamp (which then covers the .pyc files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipenv_sync_ext.install.compile import compile_new
from pipenv_sync_ext.install.direct import DirectRequirement
from pipenv_sync_ext.lock.names import canonical_name
from pipenv_sync_ext.pipeline.context import Run
from pipenv_sync_ext.plan import Plan
from pipenv_sync_ext.target.interpreter import Interpreter


def compile_step(
    run: Run,
    plan: Plan,
    *,
    pending: Sequence[DirectRequirement],
    interp: Interpreter,
    venv: Path,
    final: Path | None = None,
) -> None:
    """What this sync installed (the plan's wheels, and what pip built), nothing else; ``final``: where a
    venv built beside will live (the file names compiled into the code objects)."""
    names = [step.package.name for step in plan.install] + [canonical_name(r.entry.name) for r in pending]
    if names:
        count = compile_new(names, interpreter=interp, venv=venv, final=final)
        run.log(f"Byte-compiled {count} files")
