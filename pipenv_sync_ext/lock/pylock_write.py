"""Write a PEP 751 pylock.toml for a selection of a lock: byte-reproducible, files as local ``path``s.

Decisions:

* The same selection gives the same bytes: no timestamps, no tool version,
  packages sorted by name, files by name, keys in a fixed order; the
  ``path``s are relative to the output's directory (POSIX separators), so the
  file does not depend on where the checkout is either.
* One entry per package: the selected sections are merged as a sync merges
  them (a later section's different pin wins; the same pin unites the hashes),
  and the groups are gone (the file *is* the selection), so markers are the
  entries' environment markers only.
* Every file is named by ``path`` with its sha256 and size: ``pip install -r``
  and ``uv pip sync`` install it with no index and no network.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.lock.markers import without_dependency_groups
from pipenv_sync_ext.lock.model import LockedPackage


@dataclass(frozen=True)
class LocalFile:
    filename: str
    sha256: str
    size: int
    path: Path


def merged(packages: Iterable[LockedPackage]) -> list[LockedPackage]:
    """One package per name, sections in install order (the later different pin wins)."""
    chosen: dict[str, LockedPackage] = {}
    for p in packages:
        earlier = chosen.get(p.name)
        if earlier is not None and earlier.version == p.version:
            p = LockedPackage(p.name, p.version, earlier.hashes | p.hashes, p.category, earlier.markers or p.markers)
        chosen[p.name] = p
    return [chosen[name] for name in sorted(chosen)]


def _string(value: str) -> str:
    # A JSON string without non-ASCII escapes is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def render(
    packages: Sequence[LockedPackage],
    files: Mapping[str, Sequence[LocalFile]],
    *,
    directory: Path,
    requires_python: str | None = None,
) -> bytes:
    """The pylock.toml text: ``files`` maps a package name to its files; paths relative to ``directory``."""
    lines = ['lock-version = "1.0"', 'created-by = "pipenv-sync-ext"']
    if requires_python:
        lines.append(f"requires-python = {_string(requires_python)}")
    for p in packages:
        lines += ["", "[[packages]]", f"name = {_string(p.name)}", f"version = {_string(p.version)}"]
        marker = without_dependency_groups(p.markers) if p.markers else None
        if marker:  # the groups were the selection; what is left is for the target
            lines.append(f"marker = {_string(marker)}")
        ordered = sorted(files[p.name], key=lambda f: f.filename)
        wheels = [f for f in ordered if f.filename.endswith(".whl")]
        sdists = [f for f in ordered if not f.filename.endswith(".whl")]
        if wheels:
            lines.append("wheels = [")
            lines += [f"    {_file(f, directory)}," for f in wheels]
            lines.append("]")
        if sdists:
            lines.append(f"sdist = {_file(sdists[0], directory)}")
    return ("\n".join(lines) + "\n").encode()


def _file(f: LocalFile, directory: Path) -> str:
    rel = Path(os.path.relpath(f.path, directory)).as_posix()
    return (
        f"{{ name = {_string(f.filename)}, path = {_string(rel)}, size = {f.size}, "
        f"hashes = {{ sha256 = {_string(f.sha256)} }} }}"
    )
