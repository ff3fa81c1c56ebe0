"""The hook against the oldest pipenv the dependency allows (``pipenv>=X`` in pyproject.toml).

The newest pipenv is the one ``pip install -e '.[test]'`` brings, tested in
``test_pipenv_hook.py``. This module installs pipenv X, the floor, from the
configured package index into a throwaway venv next to this project's wheel
(a test dependency, like pytest itself) and runs the same checks that matter:
the options are added, the engine runs, and every abbreviation of pipenv's
own options parses as without the extension.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .realtools import PIPENV_ABBREVIATIONS, PREFIX_SCRIPT, tool_env
from .support import build_wheel, installed, lock_entry, write_project

ROOT = Path(__file__).resolve().parent.parent


def oldest_pipenv() -> str:
    found = re.search(r'"pipenv>=([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert found, "pyproject.toml: the pipenv dependency has no floor (pipenv>=X)"
    return found.group(1)


@pytest.fixture(scope="module")
def oldest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with pipenv==<floor> and this project's wheel; fails, saying so, when the index is unreachable."""
    tmp = tmp_path_factory.mktemp("oldest-pipenv")
    version = oldest_pipenv()

    def run(*cmd: str | Path) -> None:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            pytest.fail(f"installing pipenv=={version} (a test dependency) from the configured index failed:\n{tail}")

    run(sys.executable, "-m", "pip", "wheel", "--no-deps", ROOT, "-w", tmp / "dist", "--no-cache-dir")
    (wheel,) = (tmp / "dist").glob("pipenv_sync_ext-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-compile", f"pipenv=={version}", wheel)
    return venv


def test_the_floor_is_the_first_argparse_pipenv(oldest: Path) -> None:
    proc = subprocess.run([str(oldest / "bin" / "pipenv"), "--version"], capture_output=True, text=True)
    assert proc.stdout.strip() == f"pipenv, version {oldest_pipenv()}"
    # pipenv moved from click to argparse in 2026.5.0: the hook wraps argparse's build_parser
    options = next((oldest / "lib").glob("python*/site-packages/pipenv/cli/options.py")).read_text()
    assert "import argparse" in options and "vendor.click" not in options


def test_the_oldest_pipenv_gets_the_options_and_runs_the_engine(oldest: Path, tmp_path: Path) -> None:
    env = tool_env(tmp_path, PIPENV_VENV_IN_PROJECT="1")
    help_text = subprocess.run(
        [str(oldest / "bin" / "pipenv"), "sync", "--help"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert help_text.returncode == 0 and "pipenv-sync-ext options" in help_text.stdout and "--prune" in help_text.stdout
    wheel = build_wheel(tmp_path / "wheels", "alpha", "1.0")
    extra = build_wheel(tmp_path / "wheels", "stray", "2.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    seed = write_project(tmp_path / "seed", {"default": {"stray": lock_entry([extra], "2.0")}})
    sync = [str(oldest / "bin" / "pipenv"), "sync", "--offline", "--find-links", str(wheel.parent)]
    assert subprocess.run([*sync, "--venv", project / ".venv"], env=env, cwd=seed, capture_output=True).returncode == 0
    proc = subprocess.run([*sync, "--prune", "--dev"], capture_output=True, text=True, env=env, cwd=project)
    assert proc.returncode == 0, proc.stderr
    found = installed(project / ".venv")
    assert "pip" in found  # a venv made through pipenv has pip, as pipenv's own do
    tools = ("pip", "setuptools", "wheel")  # protected: never pruned
    assert {k: v for k, v in found.items() if k not in tools} == {"alpha": "1.0"}  # stray pruned


def test_every_abbreviation_means_what_it_means_in_the_oldest_pipenv(oldest: Path) -> None:
    proc = subprocess.run([str(oldest / "bin" / "python"), "-c", PREFIX_SCRIPT], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    parsed = json.loads(proc.stdout)
    assert {p for p, (plain, hooked) in parsed.items() if plain != hooked} == set()
    accepted = {p for p, (plain, _hooked) in parsed.items() if "error" not in plain}
    assert set(PIPENV_ABBREVIATIONS) - {"--r", "--re"} <= accepted  # --resolver came after 2026.5
