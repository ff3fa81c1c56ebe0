"""Conflict check after install (venv-update's idea): does every installed requirement hold?

For each installed distribution, each ``Requires-Dist`` whose marker is true for
the target must name an installed distribution whose version the specifier
allows. Extras count: a distribution's extra requirements apply when the lock
asks for that extra or another installed distribution requires it with the
extra. Pure: the caller reads the metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class Installed:
    name: str  # canonical
    version: str
    requires: tuple[str, ...]  # Requires-Dist lines


@dataclass(frozen=True)
class Conflict:
    dist: str
    dist_version: str
    requirement: str
    found: str | None  # the installed version, or None when missing

    def describe(self) -> str:
        found = f"found {self.found}" if self.found is not None else "missing"
        return f"{self.dist} {self.dist_version} needs {self.requirement}, {found}"


def _applies(req: Requirement, environment: Mapping[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    try:
        return any(req.marker.evaluate({**environment, "extra": e}) for e in ("", *extras))
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True  # cannot tell: check it, a false alarm beats a missed conflict


def _parse(lines: Iterable[str]) -> list[Requirement]:
    parsed = []
    for line in lines:
        try:
            parsed.append(Requirement(line))
        except InvalidRequirement:
            continue
    return parsed


def find_conflicts(
    installed: Sequence[Installed],
    environment: Mapping[str, str],
    locked_extras: Mapping[str, Iterable[str]] = {},
) -> list[Conflict]:
    by_name = {d.name: d for d in installed}
    requirements = {d.name: _parse(d.requires) for d in installed}
    extras: dict[str, set[str]] = {n: {canonicalize_name(e) for e in locked_extras.get(n, ())} for n in by_name}
    # Extras requested by others can enable more of a dist's requirements, which can
    # request more extras: iterate to a fixed point (tiny in practice).
    changed = True
    while changed:
        changed = False
        for dist in installed:
            for req in requirements[dist.name]:
                target = canonicalize_name(req.name)
                if target in extras and _applies(req, environment, extras[dist.name]):
                    new = {canonicalize_name(e) for e in req.extras} - extras[target]
                    if new:
                        extras[target] |= new
                        changed = True
    conflicts = []
    for dist in installed:
        for req in requirements[dist.name]:
            if not _applies(req, environment, extras[dist.name]):
                continue
            present = by_name.get(canonicalize_name(req.name))
            if present is None:
                conflicts.append(Conflict(dist.name, dist.version, _short(req), None))
            elif req.specifier and not _satisfies(req, present.version):
                conflicts.append(Conflict(dist.name, dist.version, _short(req), present.version))
    return conflicts


def _satisfies(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True  # a legacy version string: packaging cannot compare it, pip would not either


def _short(req: Requirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"
