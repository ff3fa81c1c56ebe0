"""Stage 1 in isolation: parsing, validation and category selection."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pipenv_sync_ext.cli.arguments import parse_categories
from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.model import LockedPackage, OtherEntry
from pipenv_sync_ext.lock.pipfile_lock import parse_entry, parse_lock
from pipenv_sync_ext.lock.selection import select_sections

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
    assert set(select_sections(lock, all_sections=True)) == {"default", "develop", "docs", "tests"}
    with pytest.raises(LockError, match=r"no category 'nope'.*default, develop, docs, tests"):
        select_sections(lock, categories=["nope"])


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
_keys = st.sampled_from(["version", "hashes", "markers", "index", "extras", "editable", "path", "git", "ref", "file"])
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
