"""``--python X.Y`` finds interpreters as pipenv does: pyenv/asdf installs first, shims that cannot run skipped.

The interpreters are real (pyenv's installs on this machine); the broken shim
is a script that fails the way a pyenv shim fails for a version that is not
selected (``pyenv: python3.12: command not found``, exit 127).
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

import pytest

from pipenv_sync_ext.errors import TargetError
from pipenv_sync_ext.target.discovery import find_python

from .support import build_wheel, cli_env, installed, lock_entry, run_cli, write_project

PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"))
HERE = sys.version_info[:2]


def _pyenv(minor: int) -> Path | None:
    found = sorted(glob.glob(str(PYENV_ROOT / "versions" / f"3.{minor}.*" / "bin" / f"python3.{minor}")))
    return Path(found[-1]) if found else None


def _other_minor() -> int:
    for minor in (12, 13, 10):
        if minor != HERE[1] and _pyenv(minor) is not None:
            return minor
    pytest.skip("needs a second Python minor version installed by pyenv")


def _broken_shim(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / name
    shim.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    return shim


def test_a_version_skips_a_shim_that_cannot_run_and_takes_pyenv_s_install(tmp_path: Path) -> None:
    """The issue's case, end to end: PATH has a failing ``python3.X`` shim first, pyenv has 3.X."""
    minor = _other_minor()
    _broken_shim(tmp_path / "shims", f"python3.{minor}")
    wheel = build_wheel(tmp_path / "wheels", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    env = cli_env(tmp_path, PATH=f"{tmp_path / 'shims'}{os.pathsep}/usr/bin:/bin", PYENV_ROOT=str(PYENV_ROOT))
    venv = tmp_path / "venv"
    args = ("--project", project, "--venv", venv, "--python", f"3.{minor}", "--offline", "--find-links", wheel.parent)
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"with {_pyenv(minor)}" in proc.stderr  # "Creating virtualenv ... with <pyenv's python3.X>"
    assert f"version = 3.{minor}." in (venv / "pyvenv.cfg").read_text()
    assert installed(venv) == {"alpha": "1.0"}


def test_without_pyenv_the_next_runnable_one_on_path_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    minor = _other_minor()
    real = _pyenv(minor)
    assert real is not None
    _broken_shim(tmp_path / "shims", f"python3.{minor}")
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / f"python3.{minor}").symlink_to(real)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("ASDF_DATA_DIR", str(tmp_path / "no-asdf"))
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path / "shims"), str(tmp_path / "good"), "/usr/bin", "/bin"]))
    assert find_python(f"3.{minor}", {}) == str(tmp_path / "good" / f"python3.{minor}")
    # the lock's _meta.requires goes through the same search
    assert find_python(None, {"python_version": f"3.{minor}"}) == str(tmp_path / "good" / f"python3.{minor}")


def test_nothing_runnable_is_a_one_line_error_naming_what_was_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim = _broken_shim(tmp_path / "shims", "python3.99")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("ASDF_DATA_DIR", str(tmp_path / "no-asdf"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'shims'}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(TargetError) as caught:
        find_python("3.99", {})
    message = str(caught.value)
    assert message.startswith("--python 3.99: no runnable Python 3.99 found in pyenv's or asdf's installs or on PATH")
    assert f"skipped {shim} (exited 127: pyenv: python3.99: command not found)" in message
    assert "\n" not in message


def test_a_major_version_takes_the_newest_minor_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``py`` launcher's rule for ``py -3``: the newest ``python3.N`` on PATH, a broken one skipped."""
    pythons = {minor: _pyenv(minor) for minor in (10, 11, 12)}
    if None in pythons.values():
        pytest.skip("needs pyenv's Python 3.10, 3.11 and 3.12")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for minor, real in pythons.items():
        (bindir / f"python3.{minor}").symlink_to(real)  # type: ignore[arg-type]
    _broken_shim(tmp_path / "shims", "python3.13")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("ASDF_DATA_DIR", str(tmp_path / "no-asdf"))
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path / "shims"), str(bindir), "/usr/bin", "/bin"]))
    assert find_python("3", {}) == str(bindir / "python3.12")


def test_pyenv_s_newest_matching_install_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    minor = _other_minor()
    monkeypatch.setenv("PYENV_ROOT", str(PYENV_ROOT))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert find_python(f"3.{minor}", {}) == str(_pyenv(minor))
    assert find_python(f"python3.{minor}", {}) == str(_pyenv(minor))  # pipenv's spelling with the name
    # an exact patch version must be that one
    exact = _pyenv(minor)
    assert exact is not None
    patch = exact.parents[1].name
    assert find_python(None, {"python_full_version": patch}) == str(exact)
