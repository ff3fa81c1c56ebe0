"""The planner is pure: tested on values, including property-based tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from pipenv_sync_ext.lock.model import LockedPackage, OtherEntry
from pipenv_sync_ext.plan import PROTECTED, Plan, make_plan, override_warning, warn_overrides
from pipenv_sync_ext.target.inventory import InstalledDist

ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
    "implementation_version": "3.11.7",
}


def pkg(name: str, version: str, markers: str | None = None, category: str = "default") -> LockedPackage:
    return LockedPackage(name, version, frozenset({name[0] * 64}), category, markers)


def dist(name: str, version: str) -> InstalledDist:
    return InstalledDist(name, version, Path(f"/v/site/{name}-{version}.dist-info"))


def plan_of(
    entries: Sequence[LockedPackage | OtherEntry],
    installed: Sequence[InstalledDist],
    environment: dict[str, str],
    **kw: Any,
) -> Plan:
    return make_plan(entries=entries, installed=installed, environment=environment, **kw)


def test_install_replace_unchanged_remove() -> None:
    plan = plan_of(
        [pkg("a", "1.0"), pkg("b", "2.0"), pkg("c", "3.0")],
        [dist("a", "1.0.0"), dist("b", "1.0"), dist("x", "9"), dist("pip", "24")],
        ENV,
        prune=True,
    )
    assert [u.package.name for u in plan.unchanged] == ["a"]  # 1.0 == 1.0.0 (PEP 440)
    assert [(i.package.name, [d.version for d in i.replaces]) for i in plan.install] == [("b", ["1.0"]), ("c", [])]
    assert [r.dist.name for r in plan.remove] == ["x"]
    assert [d.name for d in plan.extraneous] == ["pip"]


def test_marker_false_is_skipped_and_pruned() -> None:
    plan = plan_of([pkg("w", "1", "sys_platform == 'win32'")], [dist("w", "1")], ENV, prune=True)
    assert not plan.install and [s.entry.name for s in plan.skipped] == ["w"]
    assert [(r.dist.name, r.reason.startswith("markers false")) for r in plan.remove] == [("w", True)]
    plan = plan_of([pkg("w", "1", "sys_platform == 'win32'")], [dist("w", "1")], ENV, prune=False)
    assert not plan.remove and [d.name for d in plan.extraneous] == ["w"]


def test_other_entries_are_reported_and_never_pruned() -> None:
    other = OtherEntry("mine", "editable", "default", ".")
    plan = plan_of([other], [dist("mine", "0.1")], ENV, prune=True)
    assert not plan.remove and plan.others[0].dist == dist("mine", "0.1")
    plan = plan_of([other], [], ENV, prune=True)
    assert plan.others[0].dist is None


def test_duplicate_installs_are_replaced() -> None:
    plan = plan_of([pkg("a", "1")], [dist("a", "1"), dist("a", "0.9")], ENV, prune=False)
    assert len(plan.install) == 1 and len(plan.install[0].replaces) == 2


def test_same_package_in_two_sections() -> None:
    a = LockedPackage("a", "1", frozenset({"1" * 64}), "default")
    b = LockedPackage("a", "1.0", frozenset({"2" * 64}), "develop")
    plan = plan_of([a, b], [], ENV, prune=False)
    assert plan.install[0].package.hashes == {"1" * 64, "2" * 64} and not plan.overrides
    assert override_warning(plan, "L") is None


def test_later_section_wins_and_every_conflict_is_said_once() -> None:
    """pipenv installs the selected categories one after the other: the last pin is what is installed."""
    entries = [
        pkg("six", "1.15", category="default"),
        pkg("idna", "3.0", category="default"),
        pkg("six", "1.16", category="develop"),
        pkg("idna", "3.1", category="develop"),
        pkg("six", "1.17", category="docs"),
    ]
    plan = plan_of(entries, [dist("six", "1.15")], ENV, prune=False)
    assert [(i.package.name, i.package.version, i.package.category) for i in plan.install] == [
        ("idna", "3.1", "develop"),
        ("six", "1.17", "docs"),
    ]
    assert [(o.name, o.pins) for o in plan.overrides] == [
        ("idna", (("default", "3.0"), ("develop", "3.1"))),
        ("six", (("default", "1.15"), ("develop", "1.16"), ("docs", "1.17"))),
    ]
    said: list[str] = []
    warn_overrides(plan, "/p/Pipfile.lock", said.append)
    assert said == [
        "/p/Pipfile.lock: pinned differently in the selected categories, the later category wins:\n"
        "  idna [default] 3.0, [develop] 3.1 -> 3.1\n"
        "  six [default] 1.15, [develop] 1.16, [docs] 1.17 -> 1.17"
    ]


def test_a_later_entry_that_does_not_apply_or_pins_nothing_does_not_win() -> None:
    """Marker-false entries are not installed by pipenv, and ``"*"`` is satisfied by what is there."""
    entries: list[LockedPackage | OtherEntry] = [
        pkg("six", "1.15", category="default"),
        pkg("six", "1.16", "sys_platform == 'win32'", category="develop"),
        OtherEntry("six", "unpinned", "docs", "*"),
    ]
    plan = plan_of(entries, [], ENV, prune=False)
    assert [(i.package.version, i.package.category) for i in plan.install] == [("1.15", "default")]
    assert not plan.overrides and not plan.skipped and not plan.others
    # a pin after "*" wins without a conflict; an editable after a pin replaces it (pipenv reinstalls it)
    plan = plan_of(
        [OtherEntry("six", "unpinned", "default", "*"), pkg("six", "1.16", category="develop")], [], ENV, prune=False
    )
    assert [i.package.version for i in plan.install] == ["1.16"] and not plan.overrides and not plan.others
    editable = OtherEntry("six", "editable", "develop", "./six", editable=True)
    plan = plan_of([pkg("six", "1.15"), editable], [], ENV, prune=False)
    assert not plan.install and [o.entry for o in plan.others] == [editable]
    assert [o.pins for o in plan.overrides] == [(("default", "1.15"), ("develop", "editable ./six"))]


names = st.sampled_from(["a", "b", "c", "pip", "setuptools", "wheel", "d"])
versions = st.sampled_from(["1", "1.0", "2", "3.0.1"])
FALSE_MARKERS = ("sys_platform == 'win32'", "os_name == 'nt'")  # false for ENV
markers = st.sampled_from([None, "python_version >= '3.8'", *FALSE_MARKERS])
locks = st.lists(st.builds(pkg, names, versions, markers), max_size=8, unique_by=lambda p: p.name)
installs = st.lists(st.builds(dist, names, versions), max_size=8)


@settings(max_examples=300, deadline=None)
@given(locks, installs, st.booleans())
def test_plan_is_idempotent_and_safe(lock: list[LockedPackage], present: list[InstalledDist], prune: bool) -> None:
    plan = plan_of(lock, present, ENV, prune=prune)
    removed = {r.dist for r in plan.remove} | {d for i in plan.install for d in i.replaces}
    after = [d for d in present if d not in removed] + [dist(i.package.name, i.package.version) for i in plan.install]
    again = plan_of(lock, after, ENV, prune=prune)
    assert again.changes_nothing
    assert not any(r.dist.name in PROTECTED for r in plan.remove)
    wanted_false = {p.name for p in lock if p.markers in FALSE_MARKERS}
    assert not any(i.package.name in wanted_false for i in plan.install)
    if not prune:
        assert not plan.remove


sections = st.sampled_from(["default", "develop", "docs"])
spread = st.lists(st.builds(pkg, names, versions, markers, sections), max_size=10)


@settings(max_examples=300, deadline=None)
@given(spread, installs, st.booleans())
def test_plan_over_sections_installs_the_last_true_pin(
    lock: list[LockedPackage], present: list[InstalledDist], prune: bool
) -> None:
    """A name in several sections: the last marker-true entry is what the venv ends with, idempotently."""
    plan = plan_of(lock, present, ENV, prune=prune)
    removed = {r.dist for r in plan.remove} | {d for i in plan.install for d in i.replaces}
    after = [d for d in present if d not in removed] + [dist(i.package.name, i.package.version) for i in plan.install]
    assert plan_of(lock, after, ENV, prune=prune).changes_nothing
    last: dict[str, Version] = {}
    for p in lock:
        if p.markers not in FALSE_MARKERS:
            last[p.name] = Version(p.version)
    ends_with = {u.package.name: Version(u.package.version) for u in plan.unchanged}
    ends_with.update({i.package.name: Version(i.package.version) for i in plan.install})
    assert ends_with == last
