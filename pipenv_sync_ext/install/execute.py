"""Apply a plan to the venv in two steps: :func:`prepare` (checks and plans, the venv untouched),
then :func:`carry_out` (remove first, then install; journal around both).

Removing first means a package replaced by another that ships the same files
(a rename, a drop-in fork) ends up with its files: they are deleted with the
old distribution and written again by the new one. What may be removed is
:mod:`~pipenv_sync_ext.install.removal`'s rule; how a wheel is installed so that nothing half-done is
visible is :mod:`~pipenv_sync_ext.install.linkinstall`'s (from the unpacked store, the default) or
:mod:`~pipenv_sync_ext.install.wheelinstall`'s (``--link-mode installer``, and the fallback for a wheel
that cannot be unpacked); how a killed sync is noticed and repaired is
:mod:`~pipenv_sync_ext.install.journal`'s.

Every wheel passes :mod:`~pipenv_sync_ext.install.preflight` (for every link
mode), and every unpacked tree is made or checked, before the first change, so
a wheel that would fail fails with the venv unchanged, and one that cannot be
unpacked falls back to ``installer`` without leaving anything half-done.
Removals run one at a time; installs in a small thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.feedback import INSTALL, REMOVE, UNPACK, Progress, step_of
from pipenv_sync_ext.install import journal, linkinstall, preflight
from pipenv_sync_ext.install.removal import Claims, RemovalPlan, claimed_among, plan_removal
from pipenv_sync_ext.install.removal import carry_out as carry_out_removal
from pipenv_sync_ext.install.wheelinstall import install_wheel
from pipenv_sync_ext.store import unpacked
from pipenv_sync_ext.store.cas import LocalArtifact
from pipenv_sync_ext.target.interpreter import Interpreter
from pipenv_sync_ext.target.inventory import InstalledDist, record_paths

__all__ = ["LINK_MODES", "Changes", "carry_out", "check_wheel", "prepare"]

LINK_MODES = linkinstall.MODES


def check_wheel(local: LocalArtifact, name: str, cache_dir: Path | None = None) -> None:
    """Refuse, before anything is removed, a wheel that is not completely what the lock entry names.

    :mod:`.preflight`'s checks; the pin comes with the artifact (``LocalArtifact.locked``).
    """
    version = local.locked[1] if local.locked is not None and local.locked[0] == name else None
    preflight.check_wheel(local, name=name, version=version, cache_dir=cache_dir)


@dataclass(frozen=True)
class Changes:
    """Every change of one sync, decided and checked against the venv as it is; none made yet.

    :func:`prepare` reads the venv and writes only to the store (unpacked trees), so
    the status gate (``pipeline/withdrawn.py``) can decide after it, and a refusal
    there leaves the venv as it was with the waiting spent on this work instead.
    """

    removals: tuple[RemovalPlan, ...]
    installs: tuple[LocalArtifact, ...]
    trees: tuple[unpacked.Unpacked | None, ...]  # per install; None: installed with ``installer``
    linking: bool
    link_mode: str
    cache_dir: Path | None


def prepare(
    *,
    removals: Sequence[InstalledDist],
    installs: Sequence[LocalArtifact],
    kept: Sequence[InstalledDist],
    interpreter: Interpreter,
    venv: Path,
    warn: Callable[[str], None],
    cache_dir: Path | None = None,
    link_mode: str = "auto",
    repair: bool = False,
    progress: Progress | None = None,
) -> Changes:
    """Check every wheel and where it writes, make or check its unpacked tree, and plan every removal.

    ``repair``: hash every file of the unpacked trees used (rebuilt from the wheel when one differs).
    ``progress``: where the unpacking is counted."""
    if link_mode not in LINK_MODES:
        raise ValueError(f"not a link mode: {link_mode!r}")
    linking = link_mode != "installer" and cache_dir is not None
    preflight.check_all(installs, cache_dir=cache_dir)  # done already by the pipeline: a guarantee, not a cost
    preflight.check_targets(installs, interpreter=interpreter, venv=venv, removals=removals)
    trees: list[unpacked.Unpacked | None] = [None] * len(installs)
    if linking and installs:
        assert cache_dir is not None
        unpacking = step_of(progress, UNPACK, total=len(installs))
        trees = unpacked.prepare_all(installs, cache_dir, deep=repair, warn=warn, done=unpacking.advance)
        unpacking.done()
    if any(t is None for t in trees):
        # Loaded before anything is removed: a prune of the venv this tool runs in
        # must not pull the installer out from under the installs that follow.
        import installer.destinations
        import installer.records
        import installer.sources
        import installer.utils  # noqa: F401
    # Each removal planned (and journaled with the files it deletes) before the first goes.
    # Only what the removals would delete is looked up in the kept RECORDs (removal.claimed_among).
    keep = claimed_among(kept, [p for d in removals for p in record_paths(d)]) if removals else Claims()
    plans = tuple(plan_removal(d, venv=venv, keep=keep, warn=warn) for d in removals)
    return Changes(
        removals=plans,
        installs=tuple(installs),
        trees=tuple(trees),
        linking=linking and bool(installs),
        link_mode=link_mode,
        cache_dir=cache_dir,
    )


def carry_out(
    changes: Changes,
    *,
    interpreter: Interpreter,
    venv: Path,
    warn: Callable[[str], None],
    progress: Progress | None = None,
) -> None:
    """Make the changes :func:`prepare` decided: journaled removals, then the installs.
    ``progress``: where the removals and installs are counted."""
    plans, installs = changes.removals, changes.installs
    record = journal.begin(venv, list(plans), [a.artifact.filename for a in installs])
    removing = step_of(progress, REMOVE, total=len(plans)) if plans else None
    for plan in plans:
        carry_out_removal(plan, venv=venv)
        record = journal.removed(venv, record, plan)
        if removing:
            removing.advance()
    if removing:
        removing.done()
    installing = step_of(progress, INSTALL, total=len(installs)) if installs else None

    def with_installer(local: LocalArtifact) -> None:
        install_wheel(local, interpreter)

    if changes.linking:
        assert changes.cache_dir is not None
        jobs = list(zip(installs, changes.trees, strict=True))
        linkinstall.install_all(
            jobs,
            interpreter=interpreter,
            cache_dir=changes.cache_dir,
            link_mode=changes.link_mode,
            warn=warn,
            fallback=with_installer,
            done=installing.advance if installing else None,
        )
    else:
        for local in installs:
            with_installer(local)
            if installing:
                installing.advance()
    if installing:
        installing.done()
    journal.end(venv)
