"""Route a run by the venv's state: build it afresh (missing, empty, interrupted, broken, drifted, --rebuild)
or sync it in place, after the interpreter checks (moved venv, patch upgrade, ``_meta.requires``).

Imported by :mod:`~pipenv_sync_ext.pipeline.run` only once the status check is under
way: these imports (the install and target stages) then overlap its requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pipenv_sync_ext.errors import TargetError
from pipenv_sync_ext.fastpath.lockchoice import is_pylock
from pipenv_sync_ext.lock.evaluated import recall, remember
from pipenv_sync_ext.pipeline.context import Run
from pipenv_sync_ext.pipeline.in_place import sync_in_place
from pipenv_sync_ext.pipeline.options import Result
from pipenv_sync_ext.target import drift
from pipenv_sync_ext.target.interpreter import probe, venv_python
from pipenv_sync_ext.target.venv import interrupted_swap


def _build_fresh(run: Run, problems: tuple[drift.Problem, ...]) -> Result:
    # Imported only to build a venv: a sync in place does not pay for discovery and venv creation.
    from pipenv_sync_ext.pipeline.fresh import build_fresh as build

    return build(run, problems)


def route(run: Run) -> Result:
    """Build the venv afresh, or sync it in place, by what state it is in."""
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
