"""Stage 7: apply a plan to the venv. Remove first, then install; journal around both.

Removing first means a package replaced by another that ships the same files
(a rename, a drop-in fork) ends up with its files: they are deleted with the
old distribution and written again by the new one. What may be removed is
:mod:`.removal`'s rule; how a wheel is installed so that nothing half-done is
visible is :mod:`.wheelinstall`'s; how a killed sync is noticed and repaired is
:mod:`.journal`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from . import journal
from .interpreter import Interpreter
from .inventory import InstalledDist
from .removal import claimed_files, remove_dist
from .store import LocalArtifact
from .wheelinstall import check_wheel, install_wheel

__all__ = ["apply", "check_wheel"]


def apply(
    removals: Sequence[InstalledDist],
    installs: Sequence[LocalArtifact],
    kept: Sequence[InstalledDist],
    interpreter: Interpreter,
    venv: Path,
    warn: Callable[[str], None],
) -> None:
    if installs:
        # Loaded before anything is removed: a prune of the venv this tool runs in
        # must not pull the installer out from under the installs that follow.
        import installer.destinations
        import installer.records
        import installer.sources
        import installer.utils  # noqa: F401
    journal.begin(venv, [d.metadata_dir.name for d in removals], [a.artifact.filename for a in installs])
    if removals:
        keep = claimed_files(kept)
        for dist in removals:
            remove_dist(dist, venv, keep, warn)
    for local in installs:
        install_wheel(local, interpreter)
    journal.end(venv)
