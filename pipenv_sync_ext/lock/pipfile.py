"""What a sync needs from the Pipfile itself: its categories in order, and the markers of its entries.

* ``pipenv sync --all`` installs the Pipfile's categories (``packages``,
  ``dev-packages``, then the others in Pipfile order), not the lock's sections:
  :attr:`PipfileView.categories` is pipenv's ``Pipfile.get_package_categories()``.
* When ``pipenv lock`` meets an entry whose markers are false where it runs
  (``pywin32 = {version = "*", sys_platform = "== 'win32'"}`` on Linux), it
  writes ``{"version": "*"}``: no hashes, and the marker lost. Such an entry
  cannot be installed from the lock anyway; :func:`with_pipfile_markers` gives
  it back the Pipfile's marker, so it is skipped where it does not apply rather
  than reported as "incomplete for this platform", which no re-lock there fixes.
  Only hash-less entries without markers are touched: nothing the lock pins and
  hashes ever takes a marker from the Pipfile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.model import Entry, Lock, OtherEntry
from pipenv_sync_ext.lock.names import canonical_name as canonicalize_name
from pipenv_sync_ext.lock.pipfile_lock import entry_markers
from pipenv_sync_ext.lock.schema import check_pipfile, load_toml

# pipenv's NON_CATEGORY_SECTIONS (pipenv/utils/pipfile.py): top-level tables that are not package categories.
NON_CATEGORIES = frozenset(("build-system", "pipenv", "requires", "scripts", "source"))
PIPFILE_TO_LOCK = {"packages": "default", "dev-packages": "develop"}


@dataclass(frozen=True)
class PipfileView:
    path: Path
    categories: tuple[str, ...]  # Pipfile names, pipenv's order: packages, dev-packages, then the rest
    markers: Mapping[tuple[str, str], str]  # (lock section, canonical name) -> the entry's marker

    @property
    def sections(self) -> tuple[str, ...]:
        """The categories as lock section names (``packages`` -> ``default``, ``dev-packages`` -> ``develop``)."""
        return tuple(PIPFILE_TO_LOCK.get(c, c) for c in self.categories)


def read_pipfile(path: Path) -> PipfileView:
    data = load_toml(path, what="Pipfile")
    check_pipfile(data, path)
    others = [c for c in data if c not in NON_CATEGORIES and c not in PIPFILE_TO_LOCK]
    categories = ("packages", "dev-packages", *others)
    markers: dict[tuple[str, str], str] = {}
    for category in categories:
        table = data.get(category)
        if not isinstance(table, dict):
            continue
        section = PIPFILE_TO_LOCK.get(category, category)
        for name, spec in table.items():
            if isinstance(spec, dict):
                marker = _markers_of(spec, f"{path}: [{category}] {name}")
                if marker:
                    markers[(section, canonicalize_name(name))] = marker
    return PipfileView(path, categories, markers)


def _markers_of(spec: Mapping[str, Any], where: str) -> str | None:
    try:
        return entry_markers(spec, where)
    except LockError:
        return None  # a Pipfile marker pipenv could not have locked either: the lock entry stays as it is


def with_pipfile_markers(lock: Lock, pipfile: PipfileView | None) -> Lock:
    """The lock, its hash-less entries without markers given their Pipfile entry's marker (module docstring)."""
    if pipfile is None or not pipfile.markers:
        return lock
    sections: dict[str, tuple[Entry, ...]] = {}
    changed = False
    for section, entries in lock.sections.items():
        fixed: list[Entry] = []
        for entry in entries:
            marker = pipfile.markers.get((section, entry.name))
            if isinstance(entry, OtherEntry) and entry.kind == "unpinned" and not entry.markers and marker:
                entry = dataclasses.replace(entry, markers=marker)
                changed = True
            fixed.append(entry)
        sections[section] = tuple(fixed)
    return dataclasses.replace(lock, sections=sections) if changed else lock
