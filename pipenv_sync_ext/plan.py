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
  are never pruned;
* a name in more than one selected section: the entries are taken in the order
  of ``entries`` (the sections' install order) and, as in pipenv, which installs
  one category after the other, the last marker-true pin wins. A ``"*"`` entry
  pins nothing (pipenv counts whatever is installed as satisfying it), so it
  never replaces an earlier pin. The same version twice is one install with
  both hash sets; different pins are listed in :attr:`Plan.overrides`, for the
  caller to say once (:func:`override_warning`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

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
class Override:
    """A name the selected sections pin differently; the last pin is the one installed."""

    name: str
    pins: tuple[tuple[str, str], ...]  # (section, version or source) in install order


@dataclass(frozen=True)
class Plan:
    install: tuple[Install, ...]
    remove: tuple[Removal, ...]
    unchanged: tuple[Unchanged, ...]
    skipped: tuple[Skipped, ...]
    others: tuple[Other, ...]
    extraneous: tuple[InstalledDist, ...]  # not wanted, but kept (protected, or no --prune)
    overrides: tuple[Override, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        return not self.install and not self.remove


_RELEASE = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def _same_version(a: str, b: str) -> bool:
    """PEP 440 equality. Plain release numbers (most pins) are compared here, as ``Version`` compares
    them (trailing zeros ignored), so a plan that only prunes needs no ``packaging`` import."""
    if a == b:
        return True
    if _RELEASE.fullmatch(a) and _RELEASE.fullmatch(b):
        return _release(a) == _release(b)
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def make_plan(
    *,
    entries: Sequence[Entry],
    installed: Sequence[InstalledDist],
    environment: Mapping[str, str],
    prune: bool,
    protected: frozenset[str] = PROTECTED,
    lock_label: str = "Pipfile.lock",
    evaluated: Mapping[str, bool] | None = None,
) -> Plan:
    """``evaluated``: marker text -> its truth for ``environment``, when already known
    (:func:`~pipenv_sync_ext.lock.evaluated.marker_results`); others are evaluated here."""
    wanted, others, skipped, overrides = _wanted(entries, environment, lock_label, evaluated or {})
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
        overrides=overrides,
    )


def warn_overrides(plan: Plan, lock_label: str, warn: Callable[[str], None]) -> None:
    """Say once, in one warning, every name the selected sections pin differently (kept a warning
    under ``--deploy``: pipenv's ``install --deploy`` installs such a lock the same way)."""
    message = override_warning(plan, lock_label)
    if message is not None:
        warn(message)


def override_warning(plan: Plan, lock_label: str) -> str | None:
    """A headline, then a line per name pinned differently in the selected sections (later wins, as
    pipenv installs them in that order), or None. Lines, not one: a real lock has several such names."""
    if not plan.overrides:
        return None
    listed = "".join(
        "\n  " + f"{o.name} " + ", ".join(f"[{section}] {pin}" for section, pin in o.pins) + f" -> {o.pins[-1][1]}"
        for o in plan.overrides
    )
    return f"{lock_label}: pinned differently in the selected categories, the later category wins:{listed}"


def _pin(entry: Entry) -> str | None:
    """What an entry asks for: a version, a direct source, or None for ``"*"``."""
    if isinstance(entry, LockedPackage):
        return entry.version
    if entry.kind == "unpinned":
        return entry.version
    return f"{entry.kind} {entry.source}"


def _same_pin(a: Entry, b: Entry) -> bool:
    pin_a, pin_b = _pin(a), _pin(b)
    if pin_a is None or pin_b is None:
        return pin_a == pin_b
    if _is_direct(a) or _is_direct(b):
        return pin_a == pin_b
    return _same_version(pin_a, pin_b)


def _is_direct(entry: Entry) -> bool:
    return isinstance(entry, OtherEntry) and entry.kind != "unpinned"


def _merged(earlier: Entry, later: Entry) -> Entry:
    """Two entries with the same pin: one install, with every hash either section allows."""
    if not isinstance(later, LockedPackage):
        return earlier
    if not isinstance(earlier, LockedPackage):
        return later  # the same version, and this one has hashes: installable
    # Both pins come from the lock, so either section's hashes are trusted.
    return LockedPackage(
        name=earlier.name,
        version=earlier.version,
        hashes=earlier.hashes | later.hashes,
        category=earlier.category,
        markers=earlier.markers,
        extras=tuple(sorted(set(earlier.extras) | set(later.extras))),
        index=earlier.index or later.index,
    )


def _true_here(entry: Entry, environment: Mapping[str, str], lock_label: str, evaluated: Mapping[str, bool]) -> bool:
    if not entry.markers:
        return True
    known = evaluated.get(entry.markers)
    if known is not None:
        return known
    from pipenv_sync_ext.lock.markers import markers_true

    return markers_true(entry.markers, environment, f"{lock_label}: [{entry.category}] {entry.name}")


def _wanted(
    entries: Sequence[Entry], environment: Mapping[str, str], lock_label: str, evaluated: Mapping[str, bool]
) -> tuple[dict[str, LockedPackage], list[OtherEntry], list[Skipped], tuple[Override, ...]]:
    chosen: dict[str, Entry] = {}
    pins: dict[str, list[Entry]] = {}
    skipped: list[Skipped] = []
    for entry in entries:
        if not _true_here(entry, environment, lock_label, evaluated):
            skipped.append(Skipped(entry, f"markers false for this interpreter: {entry.markers}"))
            continue
        earlier = chosen.get(entry.name)
        if _pin(entry) is not None:
            pins.setdefault(entry.name, []).append(entry)
        if earlier is None:
            chosen[entry.name] = entry
        elif _pin(entry) is None:
            continue  # "*" after a pin: pipenv finds it satisfied by what the earlier one installed
        elif _same_pin(earlier, entry):
            chosen[entry.name] = _merged(earlier, entry)
        else:
            chosen[entry.name] = entry
    overrides = tuple(
        Override(name, tuple((e.category, _pin(e) or "") for e in listed))
        for name, listed in sorted(pins.items())
        if any(not _same_pin(e, listed[-1]) for e in listed)
    )
    wanted = {n: e for n, e in chosen.items() if isinstance(e, LockedPackage)}
    others = [e for e in chosen.values() if isinstance(e, OtherEntry)]
    # A name wanted through one section must not also be "skipped" through another.
    skipped = [s for s in skipped if s.entry.name not in chosen]
    return wanted, others, skipped, overrides
