"""Stage 1 in isolation: parsing, validation and category selection."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pipenv_sync_ext.cli.arguments import parse_categories
from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.markers import markers_true
from pipenv_sync_ext.lock.model import LockedPackage, OtherEntry
from pipenv_sync_ext.lock.pipfile import read_pipfile
from pipenv_sync_ext.lock.pipfile_lock import parse_entry, parse_lock
from pipenv_sync_ext.lock.selection import select, select_sections

H1 = "a" * 64
H2 = "b" * 64
P = Path("/p/Pipfile.lock")


def lock_data(**sections: object) -> dict[str, object]:
    data: dict[str, object] = {
        "_meta": {
            "hash": {"sha256": "x"},
            "requires": {"python_version": "3.11"},
            "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}],
        },
        "default": {},
        "develop": {},
    }
    data.update(sections)
    return data


def test_pinned_entry_becomes_a_locked_package() -> None:
    entry = parse_entry(
        "Foo_Bar",
        {
            "version": "==1.0",
            "hashes": [f"sha256:{H1}", f"sha256:{H2.upper()}"],
            "markers": "python_version >= '3'",
            "extras": ["Socks"],
            "index": "pypi",
        },
        section="default",
        path=P,
        source_names={"pypi"},
    )
    assert entry == LockedPackage(
        "foo-bar", "1.0", frozenset({H1, H2}), "default", "python_version >= '3'", ("socks",), "pypi"
    )


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ({"editable": True, "path": "."}, "editable"),
        ({"path": "./lib"}, "path"),
        ({"file": "https://x/y.whl"}, "file"),
        ({"git": "https://g/r.git", "ref": "abc"}, "vcs"),
        ({"hg": "https://g/r"}, "vcs"),
        ({"version": "*"}, "unpinned"),
        ({"version": "==1.0"}, "unpinned"),  # a pin without hashes cannot be verified
        ({}, "unpinned"),
    ],
)
def test_other_kinds_are_kept_not_dropped(spec: dict[str, object], kind: str) -> None:
    entry = parse_entry("x", spec, section="default", path=P)
    assert isinstance(entry, OtherEntry) and entry.kind == kind and entry.category == "default"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"version": ">=1", "hashes": [f"sha256:{H1}"]}, "[default] x: version '>=1' is not an exact pin"),
        ({"version": "==1,<2", "hashes": [f"sha256:{H1}"]}, "is not an exact pin"),
        ({"version": "==not a version", "hashes": [f"sha256:{H1}"]}, "is not an exact pin"),
        ({"version": "==1.0", "hashes": ["md5:abc"]}, "is not 'sha256:<64 hex digits>'"),
        ({"version": "==1.0", "hashes": [f"sha256:{H1[:-1]}"]}, "is not 'sha256:<64 hex digits>'"),
        ({"version": "==1.0", "hashes": "sha256:x"}, "hashes must be a list"),
        ({"version": "==1.0", "hashes": [f"sha256:{H1}"], "markers": "python_version >>> '3'"}, "invalid markers"),
        ({"version": "==1.0", "hashes": [f"sha256:{H1}"], "index": "nope"}, "index 'nope' is not one of"),
        ("==1.0", "entry must be an object"),
    ],
)
def test_bad_entries_name_file_section_and_package(spec: object, message: str) -> None:
    with pytest.raises(LockError) as err:
        parse_entry("x", spec, section="default", path=P, source_names={"pypi"})
    assert message in str(err.value) and str(P) in str(err.value)


def test_lock_without_meta_and_non_object_sections() -> None:
    with pytest.raises(LockError, match=r"\[_meta\] is missing"):
        parse_lock({"default": {}}, P)
    with pytest.raises(LockError, match=r"Pipfile\.lock"):
        parse_lock(lock_data(default=[]), P)


def test_sections_default_dev_categories_all() -> None:
    lock = parse_lock(lock_data(docs={}, tests={}), P)
    assert select_sections(lock) == ("default",)
    assert select_sections(lock, dev=True) == ("default", "develop")
    assert select_sections(lock, categories=["packages", "docs"]) == ("default", "docs")
    assert select_sections(lock, dev=True, categories=["docs"]) == ("docs",)  # pipenv: categories win
    assert select_sections(lock, categories=["dev-packages", "develop"]) == ("develop",)
    # no Pipfile to say otherwise: default, develop, then the lock's order
    assert select_sections(lock, all_sections=True) == ("default", "develop", "docs", "tests")
    with pytest.raises(LockError, match=r"no category 'nope'.*default, develop, docs, tests"):
        select_sections(lock, categories=["nope"])


def test_categories_install_in_the_order_typed() -> None:
    """pipenv installs --categories one after the other, as typed; a repeat counts where it last is."""
    lock = parse_lock(lock_data(docs={}, tests={}), P)
    assert select_sections(lock, categories=["docs", "packages"]) == ("docs", "default")
    assert select_sections(lock, categories=["tests", "docs", "packages", "tests"]) == ("docs", "default", "tests")


def test_all_takes_the_pipfile_categories_in_pipenv_order(tmp_path: Path) -> None:
    """pipenv's --all: packages, dev-packages, then the Pipfile's other tables in its order; a lock
    section the Pipfile no longer has is not synced, one the lock lacks is empty."""
    pipfile = tmp_path / "Pipfile"
    pipfile.write_text(
        '[[source]]\nurl = "https://pypi.org/simple"\nname = "pypi"\n\n[tests]\nsix = "*"\n\n'
        '[packages]\nsix = "*"\n\n[requires]\npython_version = "3.11"\n\n[zdocs]\n\n[docs]\nsix = "*"\n\n'
        '[scripts]\nx = "y"\n\n[pipenv]\nallow_prereleases = false\n'
    )
    lock = parse_lock(lock_data(docs={}, tests={}, orphan={}), P)
    lock2, sections = select(lock, pipfile, all_sections=True)
    assert sections == ("default", "develop", "tests", "zdocs", "docs")
    assert lock2.sections["zdocs"] == () and lock2.sections["orphan"] == ()
    assert read_pipfile(pipfile).categories == ("packages", "dev-packages", "tests", "zdocs", "docs")
    # --categories reaches a section the Pipfile dropped (as in pipenv) and one only the Pipfile has
    assert select(lock, pipfile, categories=["orphan", "zdocs"])[1] == ("orphan", "zdocs")
    with pytest.raises(LockError, match=r"no category 'nope' in the lock or Pipfile \(it has: .*orphan.*zdocs"):
        select(lock, pipfile, categories=["nope"])


@pytest.mark.parametrize(
    ("spec", "markers"),
    [
        ({"version": "*", "os_name": "== 'nt'"}, "os_name == 'nt'"),
        (
            {"version": "==1.0", "markers": "python_version >= '3'", "sys_platform": "== 'win32'"},
            "(python_version >= '3') and (sys_platform == 'win32')",
        ),
        (
            {"version": "*", "platform_system": "!= 'Linux'", "implementation_name": "== 'pypy'"},
            "(implementation_name == 'pypy') and (platform_system != 'Linux')",
        ),
        ({"version": "*", "os_markers": "os_name == 'nt'", "markers": ""}, "os_name == 'nt'"),
    ],
)
def test_shorthand_marker_keys_are_markers(spec: dict[str, object], markers: str) -> None:
    """pipenv's Pipfile shorthand (``os_name = "== 'nt'"``) is ``f"{key} {value}"``, ANDed with ``markers``."""
    entry = parse_entry("pywin32", {**spec, "hashes": [f"sha256:{H1}"]}, section="default", path=P)
    assert entry.markers == markers
    linux = {"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11"}
    assert not markers_true(entry.markers, {**linux, "implementation_name": "cpython"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"version": "*", "os_name": "nt"}, "[default] x: invalid os_name (a marker) 'os_name nt'"),
        ({"version": "*", "sys_platform": ["win32"]}, "[default] x: sys_platform must be a string"),
        ({"version": "*", "markers": 3}, "[default] x: markers must be a string"),
    ],
)
def test_bad_shorthand_keys_name_the_key(spec: object, message: str) -> None:
    with pytest.raises(LockError) as err:
        parse_entry("x", spec, section="default", path=P)
    assert message in str(err.value) and str(P) in str(err.value)


LINUX = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.11.7",
    "python_version": "3.11",
    "sys_platform": "linux",
}
WINDOWS = {**LINUX, "os_name": "nt", "sys_platform": "win32", "platform_system": "Windows"}
PY39 = {**LINUX, "python_version": "3.9", "python_full_version": "3.9.18"}


@pytest.mark.parametrize(
    "marker",
    [
        "('dev' in dependency_groups) and (python_version >= '3.10')",
        'sys_platform == "win32" and "dev" in dependency_groups',
        "'dev' in dependency_groups or python_version < '3'",
        "'dev' not in dependency_groups and os_name == 'nt'",
        "'dev' in dependency_groups and python_version < '3.0'",
        "'dev' in dependency_groups or 'test' in dependency_groups",
        "(os_name == 'nt' or 'a' in dependency_groups) and (python_version < '3.10' or 'b' not in dependency_groups)",
        "(python_version >= '3.10') or (('dev' in dependency_groups) and (sys_platform == 'win32'))",
    ],
)
@pytest.mark.parametrize("environment", [LINUX, WINDOWS, PY39], ids=["linux", "windows", "py39"])
def test_dependency_groups_terms_are_true_as_pipenv_makes_them(marker: str, environment: dict[str, str]) -> None:
    """The same answer as pipenv's own ``Lockfile._pip_marker`` followed by the marker's evaluation."""
    from packaging.markers import Marker
    from pipenv.utils.locking import Lockfile

    stripped = Lockfile._pip_marker(marker)
    expected = stripped is None or Marker(stripped).evaluate(environment)
    assert markers_true(marker, environment) is expected


def test_extras_terms_mean_no_extras_selected() -> None:
    """PEP 751 ``extras`` is the set of extras the install selects; a sync selects none."""
    assert not markers_true("'socks' in extras", LINUX)
    assert markers_true("'socks' not in extras", LINUX)
    assert not markers_true("'dev' in dependency_groups and 'socks' in extras", LINUX)
    assert not markers_true("extra == 'socks'", LINUX)  # a requirement's marker, as pip reads it


def test_a_marker_that_cannot_be_evaluated_is_one_line_naming_the_entry() -> None:
    with pytest.raises(LockError) as err:
        markers_true("'dev' in dependency_groups and extras == 'x'", LINUX, "/p/Pipfile.lock: [develop] x")
    message = str(err.value)
    assert message.startswith("/p/Pipfile.lock: [develop] x: markers ") and "cannot be evaluated" in message
    assert "\n" not in message


def test_unpinned_entries_take_back_the_marker_pipenv_lock_dropped(tmp_path: Path) -> None:
    """``pipenv lock`` on Linux writes ``{"version": "*"}`` for ``{version = "*", sys_platform = "== 'win32'"}``."""
    pipfile = tmp_path / "Pipfile"
    pipfile.write_text(
        '[packages]\npywin32 = {version = "*", sys_platform = "== \'win32\'"}\n'
        'six = {version = "==1.0", os_name = "== \'nt\'"}\nplain = "*"\n\n'
        '[dev-packages]\nColorama = {version = "*", markers = "os_name == \'nt\'", '
        "platform_system = \"== 'Windows'\"}\n"
    )
    lock = parse_lock(
        lock_data(
            default={
                "pywin32": {"version": "*"},
                "six": {"version": "==1.0", "hashes": [f"sha256:{H1}"]},  # pinned and hashed: never touched
                "plain": {"version": "*"},
            },
            develop={"colorama": {"version": "*"}},
        ),
        P,
    )
    lock, _sections = select(lock, pipfile)
    markers = {(s, e.name): e.markers for s, entries in lock.sections.items() for e in entries}
    assert markers == {
        ("default", "pywin32"): "sys_platform == 'win32'",
        ("default", "six"): None,
        ("default", "plain"): None,
        ("develop", "colorama"): "(os_name == 'nt') and (platform_system == 'Windows')",
    }


def test_parse_categories_like_pipenv() -> None:
    assert parse_categories("a b,c, d") == ["a", "b", "c", "d"]
    assert parse_categories(None) == []


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["==1.0", "*", "sha256:" + "a" * 64]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        *("version", "hashes", "markers", "index", "extras", "editable", "path", "git", "ref", "file"),
        *("os_name", "sys_platform", "os_markers"),
    ]
)
_entry = st.dictionaries(_keys, _json, max_size=5)
_lock = st.fixed_dictionaries(
    {
        "_meta": st.fixed_dictionaries(
            {},
            optional={
                "hash": _json,
                "requires": _json,
                "sources": _json,
                "pipfile-spec": _json,
            },
        ),
    },
    optional={
        "default": st.dictionaries(st.text(min_size=1, max_size=6), _entry | _json, max_size=3),
        "develop": st.dictionaries(st.text(min_size=1, max_size=6), _entry, max_size=3),
        "docs": _json,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_json, _lock))
def test_any_json_is_a_lock_or_a_one_line_lock_error(data: object) -> None:
    """Fuzzing the loader: whatever the JSON, the answer is a Lock or a LockError naming the file."""
    try:
        lock = parse_lock(data, Path("/p/Pipfile.lock"))
    except LockError as exc:
        assert str(exc).startswith("/p/Pipfile.lock") and "\n" not in str(exc)
        return
    for entries in lock.sections.values():
        for entry in entries:
            assert entry.name == canonicalize_name(entry.name)
