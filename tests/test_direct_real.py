"""Editable, path and sdist entries as real projects have them: a setuptools backend from the index,
build requirements kept for offline builds, several distributions in one repository, pip's errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from .support import (
    Index,
    build_wheel,
    cli_env,
    error_text,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    write_local_package,
    write_project,
)
from .wheelkit import wheel_of_installed


def _network_can_be_cut() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _setuptools_project(directory: Path, name: str, *, script: str | None = None) -> Path:
    """A project built by the real setuptools (``[build-system] requires = ["setuptools>=40.8.0"]``)."""
    directory.mkdir(parents=True, exist_ok=True)
    scripts = f'[project.scripts]\n{script} = "{name}:main"\n' if script else ""
    (directory / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=40.8.0"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "0.1"\n{scripts}'
        f'[tool.setuptools]\npackages = ["{name}"]\n'
    )
    (directory / name).mkdir(exist_ok=True)
    (directory / name / "__init__.py").write_text(f"def main():\n    print('hello from {name}')\n")
    return directory


def _pipenv_lock(project: Path, env: dict[str, str]) -> dict[str, Any]:
    """The real ``pipenv lock`` (the one installed beside this tool), against the Pipfile's loopback index."""
    pipenv = Path(sys.executable).parent / "pipenv"
    lock_env = {**env, "PIPENV_VENV_IN_PROJECT": "1", "PIPENV_YES": "1", "PIPENV_NOSPIN": "1", "NO_COLOR": "1"}
    lock_env["PIPENV_DONT_LOAD_ENV"] = "1"
    proc = subprocess.run([str(pipenv), "lock"], cwd=project, env=lock_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads((project / "Pipfile.lock").read_text())
    return data


def _pipfile(project: Path, index_url: str, packages: str) -> None:
    source = f'[[source]]\nurl = "{index_url}"\nverify_ssl = false\nname = "test"\n'
    (project / "Pipfile").write_text(f"{source}\n[packages]\n{packages}\n")


def _run(command: list[str | Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not _network_can_be_cut(), reason="needs `unshare -n` (root)")
def test_editable_setuptools_projects_sync_online_then_into_a_fresh_venv_with_the_network_cut(
    tmp_path: Path, index: Index
) -> None:
    index.add(wheel_of_installed("setuptools", tmp_path / "wheels"))
    index.add(build_wheel(tmp_path / "wheels", "alpha", "1.0"))
    # one repository, two distributions: the root project and one in a subdirectory
    repo = _setuptools_project(tmp_path / "repo", "mypkg", script="mypkg-hello")
    _setuptools_project(repo / "helper", "helper")
    _pipfile(
        repo,
        index.url,
        'mypkg = {editable = true, path = "."}\nhelper = {editable = true, path = "./helper"}\nalpha = "*"',
    )
    env = cli_env(tmp_path)
    lock = _pipenv_lock(repo, env)
    assert lock["default"]["mypkg"] == {"editable": True, "path": "."}
    assert lock["default"]["helper"] == {"editable": True, "path": "./helper"}

    online = run_cli("--project", repo, "--venv", tmp_path / "online", "--json", env=env)
    assert online.returncode == 0, online.stderr
    assert sorted(json.loads(online.stdout)["pip_installed"]) == ["helper", "mypkg"]
    assert {"alpha": "1.0", "mypkg": "0.1", "helper": "0.1"}.items() <= installed(tmp_path / "online").items()
    (record,) = (tmp_path / "cache" / "v1" / "build-requires").glob("*.json")  # one set of build requirements
    kept = json.loads(record.read_text())
    assert kept["requires"] == ["setuptools>=40.8.0"] and list(kept["files"].values()) == [
        f"setuptools-{installed(Path(sys.prefix))['setuptools']}-py3-none-any.whl"
    ]

    requests = len(index.requests)
    fresh = tmp_path / "fresh"
    sync = [sys.executable, "-m", "pipenv_sync_ext", "--project", repo, "--venv", fresh, "--offline"]
    cut = subprocess.run(["unshare", "-n", *map(str, sync)], capture_output=True, text=True, env=env, timeout=300)
    assert cut.returncode == 0, cut.stderr
    assert len(index.requests) == requests
    assert _run([fresh / "bin" / "mypkg-hello"]).stdout == "hello from mypkg\n"
    assert installed(fresh)["alpha"] == "1.0"
    # editable: the source in place
    (repo / "mypkg" / "__init__.py").write_text("def main():\n    print('edited')\n")
    assert _run([fresh / "bin" / "mypkg-hello"]).stdout == "edited\n"
    verify = run_cli("--project", repo, "--venv", fresh, "--verify", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_repository_of_two_projects_installs_both_and_resyncs_without_pip(tmp_path: Path) -> None:
    """The real shape of "one repository, two distributions": a project per subdirectory."""
    repo = tmp_path / "repo"
    write_local_package(repo / "core", "core", "1.0", scripts={"core-cli": "core:main"}, body="def main(): ...\n")
    write_local_package(repo / "plugin", "plugin", "2.0")
    write_project(repo, {"default": {n: {"editable": True, "path": f"./{n}"} for n in ("core", "plugin")}})
    env = cli_env(tmp_path)
    venv = tmp_path / "venv"
    first = run_cli("--project", repo, "--venv", venv, "--offline", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert sorted(json.loads(first.stdout)["pip_installed"]) == ["core", "plugin"]
    assert {"core": "1.0", "plugin": "2.0"}.items() <= installed(venv).items()
    (venv / ".pipenv-sync-stamp.json").unlink()
    again = run_cli("--project", repo, "--venv", venv, "--offline", "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["pip_installed"] == []


def test_two_names_locked_on_one_path_are_refused_before_any_change(tmp_path: Path) -> None:
    project = tmp_path / "p"
    write_local_package(project / "pkg", "first", "1.0")
    same = {"editable": True, "path": "./pkg"}
    write_project(project, {"default": {"first": same, "second": dict(same)}})
    venv = tmp_path / "venv"
    proc = run_cli("--project", project, "--venv", venv, "--offline", env=cli_env(tmp_path))
    assert proc.returncode == 1, proc.stderr
    line = error_text(proc.stderr, hint=False)
    assert "[default] first and [default] second are all locked from ./pkg" in line
    assert "one source builds one distribution" in line and "re-lock" in line
    assert not venv.exists()


def test_a_path_that_builds_another_name_fails_the_sync_and_writes_no_stamp(tmp_path: Path) -> None:
    project = tmp_path / "p"
    write_local_package(project / "pkg", "realname", "1.0")
    alpha = build_wheel(tmp_path / "w", "alpha", "1.0")
    write_project(project, {"default": {"wrongname": {"path": "./pkg"}, "alpha": lock_entry([alpha], "1.0")}})
    venv = make_venv(tmp_path / "venv")
    proc = run_cli(
        "--project", project, "--venv", venv, "--offline", "--find-links", alpha.parent, env=cli_env(tmp_path)
    )
    assert proc.returncode == 1, proc.stderr
    assert "[default] wrongname: pip installed realname-1.0 from ./pkg, but no distribution named wrongname" in (
        proc.stderr
    )
    assert not (venv / ".pipenv-sync-stamp.json").exists()


def test_pip_s_errors_keep_their_cause(tmp_path: Path) -> None:
    project = tmp_path / "p"
    backend = write_local_package(project / "bad", "bad", "1.0") / "_backend.py"
    backend.write_text(
        backend.read_text().replace(
            "def build_editable(wheel_directory, config_settings=None, metadata_directory=None):\n",
            "def build_editable(wheel_directory, config_settings=None, metadata_directory=None):\n"
            "    raise RuntimeError('the backend refuses: no compiler')\n",
        )
    )
    write_project(project, {"default": {"bad": {"editable": True, "path": "./bad"}}})
    env = cli_env(tmp_path)
    proc = run_cli("--project", project, "--venv", tmp_path / "venv", "--offline", env=env)
    assert proc.returncode == 1
    assert "RuntimeError: the backend refuses: no compiler" in proc.stderr
    assert "originates from a subprocess" not in proc.stderr
    remote = {"git": "https://nonexistent.invalid/remote.git", "ref": "a" * 40}
    write_project(project, {"default": {"remote": remote}})
    proc = run_cli("--project", project, "--venv", tmp_path / "venv", env=env)
    assert proc.returncode == 1
    assert "Could not resolve host: nonexistent.invalid" in proc.stderr, proc.stderr


def _with_build_requirements(directory: Path, name: str, *, declared: list[str], dynamic: list[str]) -> Path:
    """A :func:`write_local_package` tree that declares build requirements and whose backend asks for more."""
    write_local_package(directory, name, "1.0")
    pyproject = directory / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("requires = []", f"requires = {json.dumps(declared)}"))
    backend = directory / "_backend.py"
    backend.write_text(backend.read_text().replace("    return []\n", f"    return {dynamic!r}\n"))
    return directory


def _sdist_of(tree: Path, dest: Path) -> Path:
    name = tree.name
    (tree / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{name}-1.0.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        tf.add(tree, arcname=f"{name}-1.0")
    return out


def test_fetch_keeps_build_requirements_for_an_offline_deploy_from_the_wheelhouse(tmp_path: Path, index: Index) -> None:
    index.add(build_wheel(tmp_path / "wheels", "declared-helper", "1.0"))
    project = tmp_path / "p"
    _with_build_requirements(project / "tool", "tool", declared=["declared-helper>=1"], dynamic=[])
    # the same requirements: one record serves both, fetched once
    tree = _with_build_requirements(tmp_path / "src" / "sdpkg", "sdpkg", declared=["declared-helper>=1"], dynamic=[])
    sdist = _sdist_of(tree, tmp_path / "sdists")
    index.add(sdist)
    lock = {"tool": {"editable": True, "path": "./tool"}, "sdpkg": lock_entry([sdist], "1.0")}
    write_project(project, {"default": lock}, index_url=index.url)
    build_env = cli_env(tmp_path / "build")
    wheelhouse = tmp_path / "wheelhouse"
    fetched = run_cli("fetch", "--project", project, "--wheelhouse", wheelhouse, "--json", env=build_env)
    assert fetched.returncode == 0, fetched.stderr
    data = json.loads(fetched.stdout)
    assert {(b["needed_by"].split(" ")[1], b["filename"]) for b in data["build_requirements"]} == {
        ("tool", "declared_helper-1.0-py3-none-any.whl"),
        ("sdpkg==1.0", "declared_helper-1.0-py3-none-any.whl"),
    }
    assert len(list((tmp_path / "build" / "cache" / "v1" / "build-requires").glob("*.json"))) == 1
    assert [a["filename"] for a in data["artifacts"]] == ["sdpkg-1.0.tar.gz"]
    assert "not fetched" not in fetched.stderr
    # for a host described by flags: pip download with the platform options, into another store
    linux = ("--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "--implementation", "cp")
    foreign = run_cli("fetch", "--project", project, *linux, "--json", env=cli_env(tmp_path / "foreign"))
    assert foreign.returncode == 0, foreign.stderr
    assert {b["filename"] for b in json.loads(foreign.stdout)["build_requirements"]} == {
        "declared_helper-1.0-py3-none-any.whl"
    }

    # the deploy host: its own empty store, no index, the wheelhouse
    requests = len(index.requests)
    deploy_env = cli_env(tmp_path / "host")
    venv = tmp_path / "host" / "venv"
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", wheelhouse, env=deploy_env)
    assert proc.returncode == 0, proc.stderr
    assert len(index.requests) == requests
    assert {"tool": "1.0", "sdpkg": "1.0"}.items() <= installed(venv).items()
    # and the host's store now has them: the next fresh venv needs no --find-links
    shutil.rmtree(tmp_path / "host" / "cache" / "v1" / "built")
    again = run_cli("--project", project, "--venv", tmp_path / "host" / "v2", "--offline", env=deploy_env)
    assert again.returncode == 0, again.stderr


def test_build_requirements_a_backend_adds_are_fetched_and_kept(tmp_path: Path, index: Index) -> None:
    for helper in ("declared-helper", "dynamic-helper"):
        index.add(build_wheel(tmp_path / "wheels", helper, "1.0"))
    project = tmp_path / "p"
    _with_build_requirements(project / "dyn", "dyn", declared=["declared-helper"], dynamic=["dynamic-helper"])
    write_project(project, {"default": {"dyn": {"editable": True, "path": "./dyn"}}}, index_url=index.url)
    env = cli_env(tmp_path)
    offline = run_cli("--project", project, "--venv", tmp_path / "early", "--offline", env=env)
    assert offline.returncode == 4 and not (tmp_path / "early").exists()
    assert "its build requirements (declared-helper) are not in the store" in offline.stderr
    assert "pipenv-sync fetch" in offline.stderr

    online = run_cli("--project", project, "--venv", tmp_path / "one", env=env)
    assert online.returncode == 0, online.stderr
    (record,) = (tmp_path / "cache" / "v1" / "build-requires").glob("*.json")
    assert json.loads(record.read_text())["added"] == ["dynamic-helper"]
    requests = len(index.requests)
    proc = run_cli("--project", project, "--venv", tmp_path / "two", "--offline", env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "two")["dyn"] == "1.0"
    assert len(index.requests) == requests


def test_build_requirements_are_read_from_each_kind_of_source_without_running_it(tmp_path: Path) -> None:
    from pipenv_sync_ext.store import buildreqs

    from .support import git_commit_all, make_sdist

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "setup.py").write_text("raise SystemExit('never run')\n")
    assert buildreqs.of_tree(legacy) == ("setuptools>=40.8.0", "wheel")  # pip's default
    (legacy / "pyproject.toml").write_text("[tool.black]\nline-length = 1\n")  # no [build-system]: the same
    assert buildreqs.of_tree(legacy) == ("setuptools>=40.8.0", "wheel")
    (legacy / "pyproject.toml").write_text('[build-system]\nrequires = ["hatchling >= 1.27", "b; os_name == \'nt\'"]\n')
    assert buildreqs.of_tree(legacy) == ('b; os_name == "nt"', "hatchling>=1.27")
    (legacy / "pyproject.toml").write_text("[build-system\n")
    assert buildreqs.of_tree(legacy) is None  # not valid: pip says why

    tree = _with_build_requirements(tmp_path / "src" / "arch", "arch", declared=["x>=1"], dynamic=[])
    assert buildreqs.of_archive(_sdist_of(tree, tmp_path / "sdists")) == ("x>=1",)
    assert buildreqs.of_archive(make_sdist(tmp_path / "plain", "plain", "1.0")) == ()
    assert buildreqs.of_archive(build_wheel(tmp_path / "whl", "w", "1.0")) == ()  # a wheel: nothing to build

    commit = git_commit_all(tree)
    (tree / "pyproject.toml").write_text("[build-system]\nrequires = ['later']\n")  # not committed: not locked
    assert buildreqs.of_git(tree, commit, None) == ("x>=1",)
    assert buildreqs.of_git(tree, commit, "no/such/dir") == ("setuptools>=40.8.0", "wheel")
    assert buildreqs.of_git(tree, "0" * 40, None) is None


def test_a_direct_entry_that_fails_to_build_fails_before_any_removal(tmp_path: Path) -> None:
    """pip builds before this tool removes or replaces anything: the venv is left exactly as it was."""
    from .support import snapshot_tree

    project = tmp_path / "p"
    alpha1 = build_wheel(tmp_path / "w", "alpha", "1.0")
    alpha2 = build_wheel(tmp_path / "w", "alpha", "2.0")
    extra = build_wheel(tmp_path / "w", "extra", "1.0")
    env = cli_env(tmp_path)
    venv = make_venv(tmp_path / "venv")
    write_project(project, {"default": {"alpha": lock_entry([alpha1], "1.0"), "extra": lock_entry([extra], "1.0")}})
    first = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", alpha1.parent, env=env)
    assert first.returncode == 0, first.stderr
    backend = write_local_package(project / "bad", "bad", "1.0") / "_backend.py"
    backend.write_text(
        backend.read_text().replace(
            "def build_editable(wheel_directory, config_settings=None, metadata_directory=None):\n",
            "def build_editable(wheel_directory, config_settings=None, metadata_directory=None):\n"
            "    raise RuntimeError('the backend refuses')\n",
        )
    )
    write_project(
        project, {"default": {"alpha": lock_entry([alpha2], "2.0"), "bad": {"editable": True, "path": "./bad"}}}
    )
    before = snapshot_tree(venv)
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--prune", "--find-links", alpha1.parent, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "the backend refuses" in proc.stderr
    assert installed(venv) == {"alpha": "1.0", "extra": "1.0"}  # nothing pruned, nothing replaced
    after = snapshot_tree(venv)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert {c for c in changed if not c.endswith(".pipenv-sync-stamp.json")} == set(), changed
