"""Lock freshness must agree with pipenv itself, which is installed beside the tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipenv_sync_ext.lock.freshness import pipfile_hash

PIPFILES = {
    "plain": '[[source]]\nurl = "https://pypi.org/simple"\nverify_ssl = true\nname = "pypi"\n\n'
    '[packages]\nrequests = "*"\n\n[dev-packages]\npytest = ">=8"\n\n[requires]\npython_version = "3.11"\n',
    "casing": '[packages]\nRequests = "*"\nZope_Interface = {version = "*", extras = ["Test"]}\n',
    "categories": '[packages]\nsix = "*"\n\n[docs]\nSphinx = "==7.0"\n\n[scripts]\nt = "pytest"\n\n'
    "[pipenv]\nallow_prereleases = true\n",
    "no-source": '[packages]\nflask = {version = "==3.0", markers = "python_version >= \'3.8\'"}\n',
    "editable": '[packages]\nmine = {editable = true, path = "."}\nother = {git = "https://x/y.git", ref = "abc"}\n',
}


@pytest.mark.parametrize("name", sorted(PIPFILES))
def test_pipfile_hash_matches_pipenv(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipfile = tmp_path / "Pipfile"
    pipfile.write_text(PIPFILES[name])
    monkeypatch.setenv("PIPENV_PIPFILE", str(pipfile))
    monkeypatch.chdir(tmp_path)
    from pipenv.project import Project

    expected = Project().pipfile.calculate_hash()
    assert pipfile_hash(pipfile) == expected


def test_canonical_names_hash_alike(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text('[packages]\nRequests = "*"\n')
    b.write_text('[packages]\nrequests = "*"\n')
    assert pipfile_hash(a) == pipfile_hash(b)
