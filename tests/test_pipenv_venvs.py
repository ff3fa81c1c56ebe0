"""The main use case: a venv pipenv itself made, then ``pipenv sync --prune`` and ``--offline``.

pipenv creates its venvs with ``virtualenv`` (pip and setuptools seeded),
in the project (``PIPENV_VENV_IN_PROJECT``) or under ``WORKON_HOME``. Plain
``pipenv sync`` / ``pipenv install`` install the lock through pip from the
loopback index (which sends PyPI's ``Cache-Control``, so pip caches the
wheels as it does from PyPI); the extension's options then take over in
the same venv: ``pipenv sync --prune`` online, and
``unshare -n pipenv sync --offline --prune`` with no network at all, taking
what is missing from pip's cache.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .realtools import PIPENV_SYNC, copy_tree, move_tree, must, pipenv, run, tool_env
from .support import Index, build_wheel, installed, lock_entry, write_project

PYPI_CACHE_HEADERS = {"Cache-Control": "max-age=365000000, immutable, public"}


@dataclass(frozen=True)
class World:
    project: Path
    wheels: Path
    index: Index
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("pipenv-venvs")
    wh = tmp / "wheels"
    main = {"alpha/__init__.py": b"def main():\n    print('alpha ok')\n"}
    alpha = build_wheel(wh, "alpha", "1.0", files=main, console_scripts={"alpha-cli": "alpha:main"})
    beta = build_wheel(wh, "beta", "2.0", requires=["alpha"])
    devtool = build_wheel(wh, "devtool", "0.3")
    build_wheel(wh, "stray", "9.0", console_scripts={"stray-cli": "stray:main"})
    index = Index(file_headers=dict(PYPI_CACHE_HEADERS)).start()
    for wheel in (alpha, beta, devtool):
        index.add(wheel)
    project = write_project(
        tmp / "project",
        {
            "default": {"alpha": lock_entry([alpha], "1.0"), "beta": lock_entry([beta], "2.0")},
            "develop": {"devtool": lock_entry([devtool], "0.3")},
        },
        index_url=index.url,
    )
    yield World(project, wh, index, tmp)
    index.stop()


def _installer(venv: Path, dist: str) -> str:
    (info,) = next((venv / "lib").glob("python*/site-packages")).glob(f"{dist}-*.dist-info")
    return (info / "INSTALLER").read_text().strip()


def _locked(venv: Path) -> dict[str, str]:
    return {k: v for k, v in installed(venv).items() if k not in ("pip", "setuptools", "wheel")}


def _project(world: World, directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name in ("Pipfile", "Pipfile.lock"):
        (directory / name).write_bytes((world.project / name).read_bytes())
    return directory


def test_pipenv_made_venv_syncs_prunes_and_syncs_offline_through_pipenv(world: World) -> None:
    """``pipenv sync``, then ``pipenv sync --prune``, then ``unshare -n pipenv sync --offline --prune``."""
    tmp = world.tmp / "in-project"
    project = _project(world, tmp / "project")
    env = tool_env(tmp, PIPENV_VENV_IN_PROJECT="1")

    # pipenv makes the venv and installs the lock through pip, as without the extension.
    made = pipenv("sync", env=env, cwd=project)
    assert made.returncode == 0, made.stderr
    venv = project / ".venv"
    assert Path(pipenv("--venv", env=env, cwd=project).stdout.strip()) == venv
    assert "virtualenv = " in (venv / "pyvenv.cfg").read_text()  # made by virtualenv, as pipenv does
    assert _locked(venv) == {"alpha": "1.0", "beta": "2.0"} and _installer(venv, "alpha") == "pip"
    # Plain pipenv's abbreviation `--de` (= --dev) still means --dev: pipenv's own sync, through pip.
    plain = pipenv("sync", "--de", env=env, cwd=project)
    assert plain.returncode == 0, plain.stderr
    assert _locked(venv) == {"alpha": "1.0", "beta": "2.0", "devtool": "0.3"}
    assert _installer(venv, "devtool") == "pip"

    must([venv / "bin" / "pip", "install", "--no-index", "--find-links", world.wheels, "stray"], env)
    proc = pipenv("sync", "--prune", env=env, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert _locked(venv) == {"alpha": "1.0", "beta": "2.0"}  # stray and the unselected devtool are gone
    assert {"pip", "setuptools"} <= set(installed(venv))  # pipenv's seeds are protected

    # Offline in a network namespace: beta (removed by hand) and devtool come back from pip's cache.
    must([venv / "bin" / "pip", "uninstall", "--yes", "beta"], env)
    proc = pipenv("sync", "--offline", "--prune", "--dev", env=env, cwd=project, no_network=True)
    assert proc.returncode == 0, proc.stderr
    assert _locked(venv) == {"alpha": "1.0", "beta": "2.0", "devtool": "0.3"}
    assert _installer(venv, "beta") == "pipenv-sync"
    assert subprocess.run([venv / "bin" / "alpha-cli"], capture_output=True, text=True).stdout == "alpha ok\n"
    assert pipenv("sync", "--prune", "--dev", "--check", env=env, cwd=project).returncode == 0
    proc = run([PIPENV_SYNC, "--venv", venv, "--prune", "--dev", "--check", "--json"], env, cwd=project)
    assert proc.returncode == 0 and json.loads(proc.stdout)["problems"] == [], proc.stdout + proc.stderr

    # Copied and moved, the venv's pip still points at the old place: refused, naming it.
    for relocate, name in ((copy_tree, "copied"), (move_tree, "moved")):
        other = relocate(venv, tmp / name)
        proc = run([PIPENV_SYNC, "--venv", other, "--prune", "--check", "--json"], env, cwd=project)
        assert proc.returncode == 5, proc.stdout + proc.stderr
        (moved,) = (p for p in json.loads(proc.stdout)["problems"] if p["code"] == "moved")
        assert moved["message"].startswith(f"{other}: was made at {venv} and moved or copied; bin/")


def test_a_venv_pipenv_install_made_under_workon_home_syncs_offline(world: World) -> None:
    tmp = world.tmp / "workon-home"
    project = _project(world, tmp / "project")
    env = tool_env(tmp)
    made = pipenv("install", "--dev", env=env, cwd=project)
    assert made.returncode == 0, made.stderr
    venv = Path(pipenv("--venv", env=env, cwd=project).stdout.strip())
    assert venv.parent == tmp / "workon" and venv.name.startswith("project-")
    must([venv / "bin" / "pip", "install", "--no-index", "--find-links", world.wheels, "stray"], env)
    proc = pipenv("sync", "--offline", "--prune", env=env, cwd=project, no_network=True)
    assert proc.returncode == 0, proc.stderr
    assert _locked(venv) == {"alpha": "1.0", "beta": "2.0"}
    assert pipenv("sync", "--prune", "--check", env=env, cwd=project).returncode == 0
