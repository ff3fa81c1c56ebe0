"""``PIPENV_PYPI_MIRROR`` / ``--pypi-mirror``: the lock's pypi.org sources come from the mirror, as in pipenv.

The test lock names ``https://pypi.org/simple`` (as a real pipenv lock does);
the mirror is the loopback index. ``https_proxy`` points at a closed loopback
port, so a request that still went to pypi.org fails at once instead of
leaving the machine: the tests are hermetic with or without a working mirror.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipenv_sync_ext.lock.mirror import MirrorError, is_pypi_url, with_mirror
from pipenv_sync_ext.lock.model import Source

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, write_project

PYPI = "https://pypi.org/simple"


@pytest.mark.parametrize(
    ("url", "pypi"),
    [
        ("https://pypi.org/simple", True),
        ("https://pypi.org/simple/", True),
        ("http://pypi.org/simple", True),
        ("https://pypi.python.org/simple/", True),
        ("https://test.pypi.org/simple", False),
        ("https://PyPI.org/simple", False),  # pipenv's regex is case-sensitive
        ("https://pypi.org/simple?x=1", False),
        ("https://pypi.org/", False),
        ("https://files.pythonhosted.org/simple", False),
        ("https://mirror.example/pypi.org/simple", False),
    ],
)
def test_which_sources_are_pypi_as_pipenv_says(url: str, pypi: bool) -> None:
    assert is_pypi_url(url) is pypi


def test_the_mirror_replaces_pypi_sources_keeping_their_names() -> None:
    sources = (Source("pypi", PYPI, True), Source("corp", "https://corp.example/simple", True))
    assert with_mirror(sources, None) == sources
    assert with_mirror(sources, "http://127.0.0.1:3141/root/pypi/+simple/") == (
        Source("pypi", "http://127.0.0.1:3141/root/pypi/+simple/", False),  # plain http: verify_ssl off, as pipenv
        Source("corp", "https://corp.example/simple", True),
    )
    assert with_mirror(sources, "file:///srv/mirror/simple")[0] == Source("pypi", "file:///srv/mirror/simple", True)
    with pytest.raises(MirrorError) as caught:
        with_mirror(sources, "mirror.example")
    assert caught.value.exit_code == 2 and "not a URL" in str(caught.value)


def _world(tmp_path: Path, index: Index) -> tuple[Path, dict[str, str]]:
    wheel = build_wheel(tmp_path / "wheels", "alpha", "1.0")
    index.add(wheel)
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0", index="pypi")}})
    lock = project / "Pipfile.lock"
    text = lock.read_text().replace('"name": "test"', '"name": "pypi"')
    lock.write_text(text.replace("http://127.0.0.1:9/simple", PYPI))
    assert PYPI in lock.read_text()
    dead = "http://127.0.0.1:9"  # nothing listens there: pypi.org is never reached, with or without the mirror
    env = cli_env(tmp_path, https_proxy=dead, http_proxy=dead, no_proxy="127.0.0.1,localhost")
    return project, env


def test_the_standalone_sync_and_fetch_take_pipenv_pypi_mirror(tmp_path: Path, index: Index) -> None:
    project, env = _world(tmp_path, index)
    venv = tmp_path / "venv"
    proc = run_cli("--project", project, "--venv", venv, env={**env, "PIPENV_PYPI_MIRROR": index.url})
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha": "1.0"}
    # the page once, from the mirror: the download's listing and the status check (issue 17) share it
    assert sorted(index.requests) == ["/files/alpha-1.0-py3-none-any.whl", "/simple/alpha/"]

    # fetch, with the option instead of the variable, into another store
    args = ("fetch", "--project", project, "--cache-dir", tmp_path / "store2", "--pypi-mirror", index.url)
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    # the page (its listing, then the status fetch records: one fetch) and the file
    assert len(index.requests) == 4 and "1 downloaded" in proc.stdout

    # A mirror that is no URL is the user's mistake, said in one line before anything is done.
    proc = run_cli("--project", project, "--venv", tmp_path / "v2", env={**env, "PIPENV_PYPI_MIRROR": "mirror"})
    assert proc.returncode == 2 and "PIPENV_PYPI_MIRROR) 'mirror': not a URL" in proc.stderr
    assert (
        len([x for x in proc.stderr.strip().splitlines() if not x.startswith("hint:")]) == 1
        and not (tmp_path / "v2").exists()
    )


def test_without_a_mirror_pypi_org_is_asked(tmp_path: Path, index: Index) -> None:
    """The control: the same lock without a mirror goes to pypi.org (here: the dead proxy), not to the index."""
    project, env = _world(tmp_path, index)
    proc = run_cli("--project", project, "--venv", tmp_path / "venv", env=env)
    assert proc.returncode == 4, proc.stderr
    assert "alpha==1.0" in proc.stderr and index.requests == []
