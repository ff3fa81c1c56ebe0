"""The plan. Pure: "what the lock wants" x "what is installed" -> steps.

No I/O happens here (the inputs are values), which is what lets the planner be
tested exhaustively and fuzzed. The executor applies the plan; the report
prints it.

Rules:

* a locked entry whose markers are true for the target is *wanted*; one whose
  markers are false is skipped, and removed under ``prune``;
* wanted and installed at the same version (PEP 440 equality) -> unchanged;
  installed at another version (or more than once) -> install, replacing it;
* installed and not wanted -> removed only under ``prune`` and only when not
  protected; sections not selected count as not wanted (unlike ``pipenv clean``,
  which keeps every section of the lock);
* entries of other kinds (editable, VCS, path, ``"*"``) are reported as such and
  are never pruned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.markers import markers_true
from pipenv_sync_ext.lock.model import Entry, LockedPackage, OtherEntry
from pipenv_sync_ext.target.inventory import InstalledDist

# pipenv's BAD_PACKAGES (pipenv/utils/dependencies.py): never removed by a sync.
PROTECTED = frozenset(("distribute", "pip", "pkg-resources", "setuptools", "wheel"))


@dataclass(frozen=True)
class Install:
    package: LockedPackage
    replaces: tuple[InstalledDist, ...] = ()


@dataclass(frozen=True)
class Removal:
    dist: InstalledDist
    reason: str  # "not in the selected categories", "markers false for this interpreter"


@dataclass(frozen=True)
class Unchanged:
    package: LockedPackage
    dist: InstalledDist


@dataclass(frozen=True)
class Skipped:
    entry: Entry
    reason: str


@dataclass(frozen=True)
class Other:
    """A wanted entry of a kind the store does not serve; ``dist`` when installed."""

    entry: OtherEntry
    dist: InstalledDist | None


@dataclass(frozen=True)
class Plan:
    install: tuple[Install, ...]
    remove: tuple[Removal, ...]
    unchanged: tuple[Unchanged, ...]
    skipped: tuple[Skipped, ...]
    others: tuple[Other, ...]
    extraneous: tuple[InstalledDist, ...]  # not wanted, but kept (protected, or no --prune)

    @property
    def changes_nothing(self) -> bool:
        return not self.install and not self.remove


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def make_plan(
    *,
    entries: Sequence[Entry],
    installed: Sequence[InstalledDist],
    environment: Mapping[str, str],
    prune: bool,
    protected: frozenset[str] = PROTECTED,
    lock_label: str = "Pipfile.lock",
) -> Plan:
    wanted, others, skipped = _wanted(entries, environment, lock_label)
    by_name: dict[str, list[InstalledDist]] = {}
    for dist in installed:
        by_name.setdefault(dist.name, []).append(dist)

    install: list[Install] = []
    unchanged: list[Unchanged] = []
    for name, package in sorted(wanted.items()):
        present = by_name.get(name, [])
        if len(present) == 1 and _same_version(present[0].version, package.version):
            unchanged.append(Unchanged(package, present[0]))
        else:
            install.append(Install(package, tuple(present)))

    other_names = {o.name for o in others}
    other_steps = tuple(
        Other(o, next(iter(by_name.get(o.name, [])), None)) for o in sorted(others, key=lambda o: o.name)
    )
    skipped_reason = {s.entry.name: s.reason for s in skipped}
    remove: list[Removal] = []
    extraneous: list[InstalledDist] = []
    for name, dists in sorted(by_name.items()):
        if name in wanted or name in other_names:
            continue
        for dist in dists:
            if prune and name not in protected:
                reason = skipped_reason.get(name, "not in the selected categories of the lock")
                remove.append(Removal(dist, reason))
            else:
                extraneous.append(dist)
    return Plan(
        install=tuple(install),
        remove=tuple(remove),
        unchanged=tuple(unchanged),
        skipped=tuple(skipped),
        others=other_steps,
        extraneous=tuple(extraneous),
    )


def _wanted(
    entries: Sequence[Entry], environment: Mapping[str, str], lock_label: str
) -> tuple[dict[str, LockedPackage], list[OtherEntry], list[Skipped]]:
    wanted: dict[str, LockedPackage] = {}
    others: dict[str, OtherEntry] = {}
    skipped: list[Skipped] = []
    for entry in entries:
        where = f"{lock_label}: [{entry.category}] {entry.name}"
        if not markers_true(entry.markers, environment, where):
            skipped.append(Skipped(entry, f"markers false for this interpreter: {entry.markers}"))
            continue
        if isinstance(entry, OtherEntry):
            others.setdefault(entry.name, entry)
            continue
        earlier = wanted.get(entry.name)
        if earlier is None:
            wanted[entry.name] = entry
        elif not _same_version(earlier.version, entry.version):
            raise LockError(
                f"{lock_label}: [{earlier.category}] {entry.name}=={earlier.version} conflicts with "
                f"[{entry.category}] {entry.name}=={entry.version}; sync one of these categories, or re-lock"
            )
        else:
            # Both pins come from the lock, so either section's hashes are trusted.
            wanted[entry.name] = LockedPackage(
                name=earlier.name,
                version=earlier.version,
                hashes=earlier.hashes | entry.hashes,
                category=earlier.category,
                markers=earlier.markers,
                extras=tuple(sorted(set(earlier.extras) | set(entry.extras))),
                index=earlier.index or entry.index,
            )
    # A name wanted through one section must not also be "skipped" through another.
    skipped = [s for s in skipped if s.entry.name not in wanted and s.entry.name not in others]
    for name in list(others):
        if name in wanted:
            del others[name]
    return wanted, list(others.values()), skipped
