"""The one confinement rule: whatever an outsider names, the result stays under the root or is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipenv_sync_ext.confine import Confiner, component, confine, is_within, relative
from pipenv_sync_ext.errors import UnsafePathError


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding the traps a venv can hold: links out (lib64 -> /, a file link), a link within."""
    base = tmp_path_factory.mktemp("confine")
    root = base / "venv"
    (root / "lib" / "site-packages").mkdir(parents=True)
    (base / "outside").mkdir()
    (base / "outside" / "secret").write_text("x")
    os.symlink("/", root / "lib64")
    os.symlink(base / "outside", root / "lib" / "out")
    os.symlink(base / "outside" / "secret", root / "lib" / "secret")
    os.symlink("site-packages", root / "lib" / "inner")
    return root


def _under(path: Path, root: Path) -> bool:
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    lexical = os.path.normpath(path)
    return (real == real_root or real.startswith(real_root + os.sep)) and lexical.startswith(str(root) + os.sep)


SEGMENT = st.one_of(
    st.sampled_from(["..", ".", "", "lib64", "lib", "out", "secret", "inner", "site-packages", "a", "\u2028", "\x00"]),
    st.text(min_size=1, max_size=12),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(SEGMENT, min_size=1, max_size=6), sep=st.sampled_from(["/", "\\", "//"]), lead=st.booleans())
def test_confine_returns_only_paths_under_the_root(planted: Path, parts: list[str], sep: str, lead: bool) -> None:
    relative = ("/" if lead else "") + sep.join(parts)
    try:
        result = confine(planted, relative, what="test")
    except UnsafePathError as exc:
        assert "refused" in str(exc) and "\n" not in str(exc)
        return
    assert _under(result, planted), (relative, result)


@pytest.mark.parametrize(
    "relative",
    [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a\\..\\x",
        "C:/x",
        "lib64/etc/passwd",
        "lib/out/new-file",
        "lib/secret",
        "a\nb",
        "a\u2028b",
        "a\x00b",
        "",
        "a//b",
        "./a",
        "x" * 256,
    ],
)
def test_each_known_escape_is_refused(planted: Path, relative: str) -> None:
    with pytest.raises(UnsafePathError):
        confine(planted, relative, what="archive member")


def test_safe_paths_pass_through_a_link_that_stays_inside(planted: Path) -> None:
    assert confine(planted, "lib/inner/pkg/__init__.py", what="t") == planted / "lib" / "inner" / "pkg" / "__init__.py"
    assert confine(planted, "bin/tool", what="t") == planted / "bin" / "tool"  # need not exist yet
    assert confine(planted, "lib/site-packages/na\u00efve_\u00fc.py", what="t").name == "na\u00efve_\u00fc.py"


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/x", "a\\b", "a\x01", "x\u2029"])
def test_component_refuses_anything_but_one_file_name(name: str) -> None:
    with pytest.raises(UnsafePathError):
        component(name, what="file name on an index page")


def test_component_accepts_real_names() -> None:
    for name in ("six-1.17.0-py2.py3-none-any.whl", "black", "pip3.11", "easy_install-3.11", "tool.exe"):
        assert component(name, what="t") == name


def test_is_within_judges_identity_not_spelling(planted: Path) -> None:
    assert is_within(planted / "lib" / "inner" / "x", planted)
    assert not is_within(planted / "lib64" / "etc", planted)
    assert not is_within(planted / "lib" / "secret", planted)
    assert not is_within(planted.parent / "outside" / "secret", planted)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=st.lists(st.lists(SEGMENT, min_size=1, max_size=5).map("/".join), min_size=1, max_size=8))
def test_the_confiner_answers_as_confine_does_for_every_path(planted: Path, paths: list[str]) -> None:
    """One Confiner for many paths (its prefix cache warm in any order) agrees with confine on each."""
    confiner = Confiner(planted)
    for rel in paths:
        try:
            expected: Path | str = confine(planted, rel, what="t")
        except UnsafePathError:
            expected = "refused"
        try:
            got: Path | str = confiner(rel, what="t")
        except UnsafePathError as exc:
            assert "refused" in str(exc) and "\n" not in str(exc)
            got = "refused"
        assert got == expected, rel


@pytest.mark.parametrize("path", ["lib64/etc/passwd", "lib/out/new-file", "lib/secret", "lib/inner/../../x"])
def test_the_confiner_refuses_the_planted_escapes(planted: Path, path: str) -> None:
    confiner = Confiner(planted)
    confiner("lib/site-packages/ok.py", what="t")  # a warm cache changes nothing
    with pytest.raises(UnsafePathError, match="refused"):
        confiner(path, what="t")


def test_relative_is_the_lexical_rule_alone(planted: Path) -> None:
    assert relative("lib64/etc/passwd", what="t") == "lib64/etc/passwd"  # no filesystem involved
    for bad in ("../x", "/x", "a//b", "a\u2028b", ""):
        with pytest.raises(UnsafePathError):
            relative(bad, what="t")
