"""pylock.toml files written by the real tools, in the test, against the loopback index, then synced.

Each producer (``uv pip compile --format pylock.toml``, ``pip lock``, ``pipenv
lock`` with ``[pipenv] use_pylock = true``, ``pipenv pylock --generate``)
writes a lock; the venv ``pipenv-sync --lockfile pylock.toml --prune`` makes
must hold exactly what ``uv pip sync pylock.toml`` installs from the same file,
online, and then offline in a network namespace of its own (``unshare -n``,
``--offline``), from the store the online run filled.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .pipenvtools import dists, pipenv_env, run_pipenv, wheel
from .realtools import must, tool_env, uv_bin
from .support import Index, cli_env, make_venv

PRODUCERS = ("uv-pip-compile", "pip-lock", "pipenv-use-pylock", "pipenv-pylock-generate")
DEFAULT = {"alpha==1.0", "beta==1.1"}  # alpha needs beta>=1; beta 1.0 is on the index too
PIPFILE = """[[source]]
url = "{url}"
verify_ssl = false
name = "test"

[packages]
alpha = "*"

[dev-packages]
gamma = "*"
{extra}"""


def _network_can_be_cut() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _network_can_be_cut(), reason="needs `unshare -n` (root)")


@dataclass(frozen=True)
class World:
    tmp: Path
    index: Index


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("producers")
    index = Index()
    for built in (
        wheel(tmp / "wheels", "alpha", "1.0", requires=["beta>=1"]),
        wheel(tmp / "wheels", "beta", "1.0"),
        wheel(tmp / "wheels", "beta", "1.1"),
        wheel(tmp / "wheels", "gamma", "2.0"),
    ):
        index.add(built)
    index.start()
    yield World(tmp, index)
    index.stop()


def produce(producer: str, world: World, project: Path) -> Path:
    """The pylock.toml ``producer`` writes for "alpha" (plus "gamma" as dev, for pipenv) in ``project``."""
    project.mkdir(parents=True)
    url = world.index.url
    if producer == "uv-pip-compile":
        (project / "requirements.in").write_text("alpha\n")
        env = tool_env(world.tmp)
        env.pop("UV_OFFLINE")
        cmd: list[str | Path] = [uv_bin(), "pip", "compile", "--format", "pylock.toml", "--index-url", url]
        cmd.append("requirements.in")
        must([*cmd, "-o", "pylock.toml"], env, cwd=project)
    elif producer == "pip-lock":
        cmd = [sys.executable, "-m", "pip", "lock", "--index-url", url, "alpha", "-o", "pylock.toml"]
        must(cmd, cli_env(world.tmp / f"pip-{project.name}"), cwd=project)
    else:
        extra = "\n[pipenv]\nuse_pylock = true\n" if producer == "pipenv-use-pylock" else ""
        (project / "Pipfile").write_text(PIPFILE.format(url=url, extra=extra))
        env = pipenv_env(world.tmp / f"pipenv-{project.name}")
        run = run_pipenv(project, "lock", env=env, venv_name=f"lock-{project.name}")
        assert run.returncode == 0, run.output
        if producer == "pipenv-pylock-generate":
            assert not (project / "pylock.toml").exists()
            run = run_pipenv(project, "pylock", "--generate", env=env, venv_name=f"lock-{project.name}")
            assert run.returncode == 0, run.output
        assert (project / "Pipfile.lock").is_file()
    lock = project / "pylock.toml"
    assert lock.is_file()
    return lock


def uv_sync(lock: Path, venv: Path, tmp: Path, *, offline: bool) -> set[str]:
    must([uv_bin(), "venv", "--quiet", "--python", sys.executable, venv], tool_env(tmp))
    env = tool_env(tmp)  # one uv cache for both runs: offline, uv answers from what it fetched online
    if not offline:
        env.pop("UV_OFFLINE")
    prefix = ["unshare", "-n"] if offline else []
    must([*prefix, uv_bin(), "pip", "sync", "--python", venv / "bin" / "python", lock], env)
    return dists(venv)


def our_sync(lock: Path, venv: Path, tmp: Path, *extra: str, offline: bool) -> subprocess.CompletedProcess[str]:
    prefix: list[str | Path] = ["unshare", "-n"] if offline else []
    cmd: list[str | Path] = [*prefix, sys.executable, "-m", "pipenv_sync_ext", "--project", lock.parent]
    cmd += ["--lockfile", lock]
    cmd += ["--venv", venv, "--prune", *extra, *(["--offline"] if offline else [])]
    return must(cmd, cli_env(tmp))


@pytest.mark.parametrize("producer", PRODUCERS)
def test_a_real_pylock_syncs_as_uv_pip_sync_installs_it_online_and_offline(world: World, producer: str) -> None:
    tmp = world.tmp / producer
    lock = produce(producer, world, tmp / "project")

    uv_lock = lock
    if "environments = []" in lock.read_text():
        # pipenv writes an empty `environments`, which uv reads as "no environment": uv refuses the
        # file, this tool reads it as no restriction. uv's reference is the file without that line.
        refused = subprocess.run(
            [uv_bin(), "pip", "sync", "--dry-run", lock], capture_output=True, text=True, env=tool_env(tmp)
        )
        assert "not supported by the lockfile" in refused.stderr
        uv_lock = tmp / "uv" / "pylock.toml"
        uv_lock.parent.mkdir()
        uv_lock.write_text(lock.read_text().replace("environments = []\n", ""))
    reference = uv_sync(uv_lock, tmp / "uv-online", tmp, offline=False)
    assert reference == DEFAULT  # gamma is dev-only: not in pipenv's default-groups

    our_sync(lock, tmp / "ours-online", tmp, offline=False)
    assert dists(tmp / "ours-online") == reference

    # the network cut: uv from its cache, this tool from its store, each from the same file
    assert uv_sync(uv_lock, tmp / "uv-offline", tmp, offline=True) == reference
    before = len(world.index.requests)
    made = our_sync(lock, tmp / "ours-offline", tmp, offline=True)
    assert dists(tmp / "ours-offline") == reference, made.stderr
    assert len(world.index.requests) == before


@pytest.mark.parametrize("producer", ["pipenv-use-pylock"])
def test_dev_selects_pipenv_s_dev_group(world: World, producer: str) -> None:
    tmp = world.tmp / f"{producer}-dev"
    lock = produce(producer, world, tmp / "project")
    venv = make_venv(tmp / "venv")
    our_sync(lock, venv, tmp, "--dev", offline=False)
    assert dists(venv) == {*DEFAULT, "gamma==2.0"}
    our_sync(lock, venv, tmp, offline=False)  # back to default-groups: --prune removes the dev group
    assert dists(venv) == DEFAULT


def test_pipenv_sync_prune_in_a_use_pylock_project_uses_one_file_and_says_which(world: World) -> None:
    tmp = world.tmp / "hook"
    lock = produce("pipenv-use-pylock", world, tmp / "project")
    project = lock.parent
    # the two files disagree: pylock.toml is edited to pin beta 1.0
    text = lock.read_text()
    assert 'version = "1.1"' in text
    lock.write_text(text.replace("beta-1.1", "beta-1.0").replace('version = "1.1"', 'version = "1.0"'))
    env = {**pipenv_env(tmp / "pipenv"), "PIPENV_SYNC_CACHE_DIR": str(tmp / "store")}
    venv_name = "hooked"
    first = run_pipenv(project, "sync", "--prune", env=env, venv_name=venv_name)
    assert first.returncode == 0, first.output
    assert f"installing and pruning against {project / 'Pipfile.lock'}" in first.output
    assert "describe different packages" in first.output and "pylock.toml" in first.output
    assert first.dists() == DEFAULT  # Pipfile.lock's set, pipenv's install rule; never neither set
