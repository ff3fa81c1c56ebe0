"""Venvs from every common creator, synced in place through the real ``pipenv sync``.

Each venv is made by the real tool (``python -m venv`` with and without pip,
``--copies``, ``--system-site-packages``; ``virtualenv`` with and without pip;
``uv venv``, plain and ``--relocatable``), gets a stray package (``uv pip
install``), and is then synced through ``pipenv sync --prune`` (the hook, from
the loopback index), repaired offline in a network namespace of its own
(``unshare -n pipenv sync --offline --prune``), and checked (``--check``
exits 0). Then it is copied (``cp -a``) and moved (``mv``): both are refused as
moved, naming the old place. pipenv's own venvs are in ``test_pipenv_venvs.py``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .realtools import CREATORS, PIPENV_SYNC, copy_tree, create, move_tree, pipenv, run, tool_env, uv_pip
from .support import Index, build_wheel, installed, lock_entry, write_project

#: What a creator seeds and --prune keeps (pipenv's protected names).
SEEDS = {"pip", "setuptools", "wheel"}


@dataclass(frozen=True)
class World:
    project: Path
    wheels: Path
    index: Index
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("creators")
    wh = tmp / "wheels"
    main = {"alpha/__init__.py": b"def main():\n    print('alpha ok')\n"}
    alpha = build_wheel(wh, "alpha", "1.0", files=main, console_scripts={"alpha-cli": "alpha:main"})
    beta = build_wheel(wh, "beta", "2.0", requires=["alpha"])
    build_wheel(wh, "stray", "9.0", console_scripts={"stray-cli": "stray:main"})
    index = Index().start()
    for wheel in (alpha, beta):
        index.add(wheel)
    project = write_project(
        tmp / "project",
        {"default": {"alpha": lock_entry([alpha], "1.0"), "beta": lock_entry([beta], "2.0")}},
        index_url=index.url,
    )
    yield World(project, wh, index, tmp)
    index.stop()


def _own(venv: Path) -> dict[str, str]:
    """What the venv's interpreter sees installed in the venv itself (not in system site-packages)."""
    code = (
        "import importlib.metadata as m, json, os, sys; print(json.dumps({d.metadata['Name'].lower(): d.version "
        "for d in m.distributions() if os.path.realpath(d._path).startswith(os.path.realpath(sys.prefix))}))"
    )
    out = subprocess.run([venv / "bin" / "python", "-I", "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(out.stdout)
    assert set(found) <= set(installed(venv))
    return found


def _problems(proc: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    data = json.loads(proc.stdout)
    problems: list[dict[str, str]] = data["problems"]
    return problems


@pytest.mark.parametrize("creator", CREATORS)
def test_a_venv_of_every_creator_syncs_prunes_offline_and_checks_through_pipenv(world: World, creator: str) -> None:
    tmp = world.tmp / creator
    env = tool_env(tmp)
    venv = create(creator, tmp / "venv", env)
    seeds = {k: v for k, v in _own(venv).items() if k in SEEDS}
    uv_pip(venv, "install", "--find-links", world.wheels, "stray", env=env)
    active = {**env, "VIRTUAL_ENV": str(venv)}  # pipenv (and the engine, by pipenv's rules) use the active venv
    prune = creator != "venv-system-site-packages"

    if not prune:
        # The documented refusal: with the system's site-packages visible, --prune cannot own every package.
        refused = pipenv("sync", "--prune", env=active, cwd=world.project)
        assert refused.returncode == 1 and "include-system-site-packages is on, so --prune" in refused.stderr
        assert _own(venv) == {**seeds, "stray": "9.0"}
    requests = len(world.index.requests)
    # Any extension option makes `pipenv sync` run the engine; --no-pip-cache changes nothing else here.
    proc = pipenv("sync", "--prune" if prune else "--no-pip-cache", env=active, cwd=world.project)
    assert proc.returncode == 0, proc.stderr
    expected = {"alpha": "1.0", "beta": "2.0", **({} if prune else {"stray": "9.0"})}
    assert _own(venv) == {**seeds, **expected}
    assert len(world.index.requests) > requests  # fetched from the loopback index, into this test's store

    # Repaired offline, in a network namespace with no interface up: nothing can be reached at all.
    uv_pip(venv, "uninstall", "beta", env=env)
    if prune:
        uv_pip(venv, "install", "--find-links", world.wheels, "stray", env=env)
    proc = pipenv("sync", "--offline", *(["--prune"] if prune else []), env=active, cwd=world.project, no_network=True)
    assert proc.returncode == 0, proc.stderr
    assert _own(venv) == {**seeds, **expected}
    assert subprocess.run([venv / "bin" / "alpha-cli"], capture_output=True, text=True).stdout == "alpha ok\n"

    check = [*(["--prune"] if prune else []), "--check"]
    standalone: list[str | Path] = [PIPENV_SYNC, "--project", world.project, "--venv", venv, "--json", *check]
    proc = run([*standalone, "--verify"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _problems(proc) == []

    # A copy (its original still there) and a move are both refused, naming where the venv was made.
    for relocate, name in ((copy_tree, "copied"), (move_tree, "moved")):
        other = relocate(venv, tmp / name)
        proc = run([PIPENV_SYNC, "--project", world.project, "--venv", other, "--json", *check], env)
        assert proc.returncode == 5, proc.stdout + proc.stderr
        (moved,) = (p for p in _problems(proc) if p["code"] == "moved")
        assert moved["message"].startswith(f"{other}: was made at {venv} and moved or copied; ")
        assert "bin/alpha-cli" in moved["message"] or "bin/activate" in moved["message"]
