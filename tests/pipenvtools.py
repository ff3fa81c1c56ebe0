"""The real pipenv, run against the loopback index: ``pipenv lock`` writes the locks, ``pipenv sync``
installs the reference venvs a sync by this tool is compared with."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .support import build_wheel, cli_env, installed, make_venv

PIPENV = Path(sys.executable).with_name("pipenv")  # the console script beside the tests' interpreter
SEEDS = frozenset(("pip", "setuptools", "wheel"))  # a venv's seed tools, not the lock's


def wheel(dest: Path, name: str, version: str, *, requires: Iterable[str] = ()) -> Path:
    """A wheel whose METADATA has real ``Requires-Dist`` and, for each ``extra == "x"``, ``Provides-Extra: x``
    (pip ignores an extra the metadata does not provide)."""
    lines = list(requires)
    extras = sorted({r.split('extra == "')[1].split('"')[0] for r in lines if 'extra == "' in r})
    if extras:  # build_wheel writes "Requires-Dist: <item>\n" per item: the last item carries the extra lines
        lines[-1] += "".join(f"\nProvides-Extra: {e}" for e in extras)
    return build_wheel(dest, name, version, requires=lines)


def pipenv_env(tmp: Path, **extra: str) -> dict[str, str]:
    """pipenv isolated in ``tmp``: its venvs under WORKON_HOME, its caches, no pip configuration."""
    return cli_env(
        tmp,
        PIPENV_IGNORE_VIRTUALENVS="1",
        PIPENV_YES="1",
        PIPENV_NOSPIN="1",
        PIPENV_DONT_LOAD_ENV="1",
        PIPENV_CACHE_DIR=str(tmp / "pipenv-cache"),
        NO_COLOR="1",
        COLUMNS="200",
        **extra,
    )


@dataclass(frozen=True)
class PipenvRun:
    returncode: int
    output: str  # stdout and stderr
    venv: Path

    def dists(self) -> set[str]:
        return dists(self.venv)


def run_pipenv(project: Path, *args: str, env: Mapping[str, str], venv_name: str) -> PipenvRun:
    """``pipenv <args>`` in ``project``, with its venv at ``$WORKON_HOME/<venv_name>``."""
    env = {**env, "PIPENV_CUSTOM_VENV_NAME": venv_name}
    venv = Path(env["WORKON_HOME"]) / venv_name
    if not venv.exists():
        # pipenv uses a venv that is already there, and installs with its own pip: a venv without pip
        # is made in a tenth of the time virtualenv's seeding takes, and holds the same after a sync
        make_venv(venv)
    proc = subprocess.run(
        [str(PIPENV), *args], capture_output=True, text=True, env=env, cwd=project, timeout=600, check=False
    )
    return PipenvRun(proc.returncode, proc.stdout + proc.stderr, venv)


def pipenv_lock(project: Path, pipfile: str, *, env: Mapping[str, str]) -> Path:
    """Write the Pipfile and lock it with the real ``pipenv lock``; the Pipfile.lock's path."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "Pipfile").write_text(pipfile)
    run = run_pipenv(project, "lock", env=env, venv_name=f"lock-{project.name}")
    assert run.returncode == 0, run.output
    return project / "Pipfile.lock"


def dists(venv: Path) -> set[str]:
    """``name==version`` of every distribution in the venv, without the seed tools."""
    return {f"{name}=={version}" for name, version in installed(venv).items() if name not in SEEDS}
