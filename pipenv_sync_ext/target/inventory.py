"""What is installed in the target's site-packages.

Reads directory names only (``name-version.dist-info``), the way uv does, so
an inventory of 50 packages costs one ``scandir`` per site directory. RECORD
and METADATA are read lazily, only for what the plan removes or protects.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipenv_sync_ext.lock.names import canonical_name as canonicalize_name

if TYPE_CHECKING:
    from packaging.requirements import Requirement


@dataclass(frozen=True)
class InstalledDist:
    name: str  # canonical
    version: str
    metadata_dir: Path  # the *.dist-info or *.egg-info directory (or file)

    @property
    def site_dir(self) -> Path:
        return self.metadata_dir.parent

    @property
    def is_egg_info(self) -> bool:
        return self.metadata_dir.name.endswith(".egg-info")


def scan(site_dirs: Iterable[Path]) -> tuple[InstalledDist, ...]:
    found: list[InstalledDist] = []
    for site in site_dirs:
        try:
            entries = list(os.scandir(site))
        except FileNotFoundError:
            continue
        for entry in entries:
            dist = _from_entry(Path(entry.path), entry.name)
            if dist is not None:
                found.append(dist)
    found.sort(key=lambda d: (d.name, d.version))
    return tuple(found)


def _from_entry(path: Path, filename: str) -> InstalledDist | None:
    for suffix in (".dist-info", ".egg-info"):
        if filename.endswith(suffix):
            break
    else:
        return None
    stem = filename[: -len(suffix)]
    if suffix == ".dist-info":
        name, sep, version = stem.partition("-")
        if sep and name and version:
            return InstalledDist(canonicalize_name(name), version, path)
    else:
        # setuptools: name-version[-pyX.Y[-platform]].egg-info; names use "_" for "-"
        parts = stem.split("-")
        if len(parts) >= 2 and parts[0]:
            return InstalledDist(canonicalize_name(parts[0]), parts[1], path)
    # Unparseable name: ask the metadata itself.
    meta = read_metadata(path)
    if meta.get("Name") and meta.get("Version"):
        return InstalledDist(canonicalize_name(meta["Name"]), meta["Version"], path)
    return None


def _metadata(metadata_dir: Path) -> list[tuple[str, str]] | None:
    """The headers of METADATA (dist-info), PKG-INFO (egg-info dir) or the egg-info file itself."""
    if metadata_dir.is_file():
        candidates = [metadata_dir]
    else:
        candidates = [metadata_dir / "METADATA", metadata_dir / "PKG-INFO"]
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return parse_headers(text)
    return None


def parse_headers(text: str) -> list[tuple[str, str]]:
    """RFC 822 headers as core metadata uses them, up to the body: ``email.parser``'s answer
    for these files, without importing the email package on every sync."""
    headers: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            break  # the body (the long description) starts here
        if line[0] in " \t" and headers:  # a folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return headers


def read_metadata(metadata_dir: Path) -> Mapping[str, str]:
    """Headers of the distribution's metadata (first value of each, names as written)."""
    result: dict[str, str] = {}
    for name, value in _metadata(metadata_dir) or ():
        result.setdefault(name, value)
    return result


def requires_dist(metadata_dir: Path) -> tuple[str, ...]:
    return tuple(value for name, value in _metadata(metadata_dir) or () if name.lower() == "requires-dist")


def record_paths(dist: InstalledDist) -> tuple[Path, ...]:
    """Absolute paths of the files a distribution says it owns.

    dist-info: RECORD (paths relative to the site directory). egg-info:
    ``installed-files.txt`` (relative to the egg-info directory) when pip wrote
    one. The metadata directory's own files are always included.
    """
    base = dist.site_dir
    rows: list[str] = []
    if dist.is_egg_info:
        listing = dist.metadata_dir / "installed-files.txt"
        try:
            lines = listing.read_text(encoding="utf-8").splitlines()
            rows = [os.path.join(dist.metadata_dir.name, ln) for ln in lines if ln.strip()]
        except OSError:
            rows = []
    else:
        try:
            with (dist.metadata_dir / "RECORD").open(encoding="utf-8", newline="") as f:
                rows = [row[0] for row in csv.reader(f) if row]
        except OSError:
            rows = []
    paths = {Path(os.path.normpath(base / row)) for row in rows}
    if dist.metadata_dir.is_dir():
        paths.update(Path(p) for p in _walk_files(dist.metadata_dir))
    else:
        paths.add(dist.metadata_dir)
    return tuple(sorted(paths))


def _walk_files(root: Path) -> Iterable[str]:
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            yield os.path.join(dirpath, f)


def dependency_closure(
    installed: Sequence[InstalledDist], roots: Iterable[str], environment: Mapping[str, str]
) -> frozenset[str]:
    """Canonical names of ``roots`` and everything they need, among what is installed.

    Used so that a protected tool (pip, ``--keep``) keeps working after a prune.
    Requirement markers are evaluated for the target interpreter, extras off.
    """
    by_name = {d.name: d for d in installed}
    todo = [canonicalize_name(r) for r in roots]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        dist = by_name.get(name)
        if dist is None:
            continue
        for line in requires_dist(dist.metadata_dir):
            # Only here: most prunes protect nothing that is installed, and need no parser.
            from packaging.requirements import InvalidRequirement, Requirement

            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if _keeps(req, environment):
                todo.append(canonicalize_name(req.name))
    return frozenset(seen)


def _keeps(req: Requirement, environment: Mapping[str, str]) -> bool:
    """Does ``req`` apply to the target? An unevaluable marker counts as yes: keeping is safe."""
    if req.marker is None:
        return True
    from packaging.markers import UndefinedComparison, UndefinedEnvironmentName

    try:
        return bool(req.marker.evaluate({**environment, "extra": ""}))
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True
