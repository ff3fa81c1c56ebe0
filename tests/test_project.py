"""The venv is found where pipenv itself finds it: checked against the real `pipenv --venv`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipenv_sync_ext.target.project import find_project, locate_venv

from .support import cli_env, make_venv, run_cli, write_project

PIPENV = Path(sys.executable).parent / "pipenv"


def _pipenv_venv(project: Path, env: dict[str, str]) -> str:
    proc = subprocess.run([str(PIPENV), "--venv"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize(
    "case", ["workon-home", "in-project-env", "custom-name", "dot-venv-dir", "dot-venv-file", "pipfile-setting"]
)
def test_created_venv_is_the_one_pipenv_finds(case: str, tmp_path: Path) -> None:
    project = write_project(tmp_path / "My Project", {"default": {}})
    env = cli_env(tmp_path)
    if case == "in-project-env":
        env["PIPENV_VENV_IN_PROJECT"] = "1"
    elif case == "custom-name":
        env["PIPENV_CUSTOM_VENV_NAME"] = "custom-env"
    elif case == "dot-venv-dir":
        make_venv(project / ".venv")
    elif case == "dot-venv-file":
        (project / ".venv").write_text("named-env\n")
    elif case == "pipfile-setting":
        with (project / "Pipfile").open("a") as f:
            f.write("\n[pipenv]\nvenv_in_project = true\n")
        lock = project / "Pipfile.lock"
        from pipenv_sync_ext.lock.freshness import pipfile_hash

        lock.write_text(
            lock.read_text().replace(lock.read_text().split('"sha256": "')[1][:64], pipfile_hash(project / "Pipfile"))
        )
    proc = run_cli("--dry-run", env=env, cwd=project)  # discovery from cwd, like pipenv
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(env=env, cwd=project)
    assert proc.returncode == 0, proc.stderr
    ours = str(locate_venv(find_project(cwd=project), env))
    assert (Path(ours) / "bin" / "python").exists()
    assert _pipenv_venv(project, env) == ours
    if case in ("in-project-env", "dot-venv-dir", "pipfile-setting"):
        assert ours == str(project / ".venv")
    if case == "custom-name":
        assert ours.endswith("/custom-env")


def test_active_virtualenv_wins(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"default": {}})
    active = make_venv(tmp_path / "active")
    env = cli_env(tmp_path, VIRTUAL_ENV=str(active))
    assert _pipenv_venv(project, env) == str(active)
    assert locate_venv(find_project(cwd=project), env) == active
    env["PIPENV_IGNORE_VIRTUALENVS"] = "1"
    assert locate_venv(find_project(cwd=project), env) != active


def test_pipfile_is_searched_upwards_and_pipenv_pipfile_wins(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"default": {}})
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project(cwd=deep, env={}).pipfile == project / "Pipfile"
    other = write_project(tmp_path / "q", {"default": {}})
    found = find_project(cwd=deep, env={"PIPENV_PIPFILE": str(other / "Pipfile")})
    assert found.lockfile == other / "Pipfile.lock"
