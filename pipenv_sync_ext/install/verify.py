"""Installed files against their RECORD: modified or missing files, per distribution.

Only files with a hash in RECORD are checked (RECORD itself and bytecode have
none), and only those inside the venv. A row naming a path in the wheel's
``<name>.data/`` directory is skipped: pip and uv leave one for a
``.data/scripts`` file a launcher replaced, a file that is never installed. With hard links into the unpacked store
(:mod:`~pipenv_sync_ext.install.linkinstall`), an in-place edit shows here as a modified file, and
``--repair`` rebuilds the store's tree before relinking it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.fsutil import is_inside
from pipenv_sync_ext.target.inventory import InstalledDist


@dataclass(frozen=True)
class Damage:
    dist: InstalledDist
    modified: tuple[str, ...]
    missing: tuple[str, ...]

    def describe(self) -> str:
        parts = [
            f"{len(files)} {what} ({_some(files)})"
            for what, files in (("modified", self.modified), ("missing", self.missing))
            if files
        ]
        return f"{self.dist.name} {self.dist.version}: installed files differ from RECORD: {'; '.join(parts)}"


def _some(files: tuple[str, ...]) -> str:
    return ", ".join(files[:3]) + ("..." if len(files) > 3 else "")


def check_dist(dist: InstalledDist, venv: Path) -> Damage | None:
    if dist.is_egg_info:
        return None  # installed-files.txt has no hashes
    try:
        with (dist.metadata_dir / "RECORD").open(encoding="utf-8", newline="") as f:
            rows = [row for row in csv.reader(f) if len(row) >= 2 and row[1]]
    except OSError:
        return Damage(dist, (), ("RECORD",))
    modified: list[str] = []
    missing: list[str] = []
    for row in rows:
        if row[0].partition("/")[0].endswith(".data"):
            continue
        path = Path(os.path.normpath(dist.site_dir / row[0]))
        if not is_inside(path, venv):
            continue
        algorithm, _, expected = row[1].partition("=")
        try:
            h = hashlib.new(algorithm)
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except FileNotFoundError:
            missing.append(row[0])
            continue
        except (OSError, ValueError):
            modified.append(row[0])
            continue
        if base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode() != expected:
            modified.append(row[0])
    if not modified and not missing:
        return None
    return Damage(dist, tuple(modified), tuple(missing))


def check_all(dists: Iterable[InstalledDist], venv: Path) -> list[Damage]:
    return [d for dist in dists if (d := check_dist(dist, venv)) is not None]
