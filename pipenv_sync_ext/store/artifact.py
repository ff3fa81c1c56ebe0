"""Which artifact fits the target: pure functions over file names and tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipenv_sync_ext.confine import component
from pipenv_sync_ext.errors import UnsafePathError


@dataclass(frozen=True)
class Artifact:
    """A file the lock allows: its sha256 and its original file name."""

    sha256: str
    filename: str

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


def project_of(filename: str) -> tuple[str, str] | None:
    """(canonical name, version) encoded in a wheel or sdist file name."""
    # packaging only when a file name is read: a sync that installs nothing never reads one.
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return canonicalize_name(name), str(version)


def safe_filename(filename: str, *, what: str) -> str:
    """``filename`` when it is one safe file name *and* a wheel or sdist file name; else :class:`UnsafePathError`.

    A file name from an index page (or a find-links directory, or the store) becomes a
    path only after this: one component (:func:`pipenv_sync_ext.confine.component`: no
    ``/``, no ``..``, no control characters, percent-decoding already done by the
    caller) that :mod:`packaging` parses as a wheel or sdist name.
    """
    component(filename, what=what)
    if project_of(filename) is None:
        raise UnsafePathError(f"{what}: {filename!r} is not a wheel or sdist file name; refused")
    return filename


def names_version(filename: str, name: str, version: str) -> bool:
    """Whether ``filename`` is a wheel or sdist of canonical ``name`` at ``version`` (compared normalised)."""
    from packaging.version import InvalidVersion, Version

    try:
        normal = str(Version(version))
    except InvalidVersion:
        normal = version
    return project_of(filename) == (name, normal)


def wheel_rank(filename: str, tag_rank: Mapping[str, int]) -> int | None:
    """Rank of a wheel for the target: lower is more specific; None if incompatible."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        _name, _version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    ranks = [tag_rank[str(t)] for t in tags if str(t) in tag_rank]
    return min(ranks) if ranks else None


def best_wheel(artifacts: Iterable[Artifact], tag_rank: Mapping[str, int]) -> Artifact | None:
    """The most specific compatible wheel, as pip orders them (ties: by name, for determinism)."""
    ranked = [
        (rank, a.filename, a)
        for a in artifacts
        if a.is_wheel and (rank := wheel_rank(a.filename, tag_rank)) is not None
    ]
    return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def is_sdist(filename: str) -> bool:
    return filename.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz"))
