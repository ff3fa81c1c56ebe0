"""Every kind of lock entry: editable and local paths, local files, git, extras; and the conflict check."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .support import (
    build_wheel,
    cli_env,
    git_commit_all,
    installed,
    lock_entry,
    make_sdist,
    make_venv,
    run_cli,
    write_local_package,
    write_project,
)


@dataclass
class Mixed:
    project: Path
    wheels: Path
    repo: Path
    env: dict[str, str]
    tmp: Path
    lock: dict[str, Any]

    def sync(self, venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "--project", self.project, "--venv", venv, "--find-links", self.wheels, *args, env={**self.env, **env}
        )

    def write_lock(self) -> None:
        (self.project / "Pipfile.lock").write_text(json.dumps(self.lock, indent=2))


@pytest.fixture
def mixed(tmp_path: Path) -> Mixed:
    """A project whose lock holds an editable path, a local wheel file, a git checkout and extras."""
    wh = tmp_path / "wheels"
    fast = build_wheel(wh, "fastlib", "1.0", requires=["speedup>=2; extra == 'fast'"])
    speedup = build_wheel(wh, "speedup", "2.0")
    sdist_only = make_sdist(wh, "sdonly", "1.0", body="KIND = 'built from an sdist'\n")
    project = tmp_path / "proj"
    write_local_package(
        project / "mylib",
        "mylib",
        "0.1",
        scripts={"mylib-cli": "mylib:main"},
        body="def main():\n    print('mylib says hi')\n",
    )
    local_wheel = build_wheel(project / "dist", "localwheel", "3.0")
    repo = write_local_package(tmp_path / "repo", "gitpkg", "1.0", body="WHO = 'first'\n")
    commit = git_commit_all(repo)
    write_project(
        project,
        {
            "default": {
                "fastlib": lock_entry([fast], "1.0", extras=["fast"]),
                "speedup": lock_entry([speedup], "2.0"),
                "sdonly": lock_entry([sdist_only], "1.0"),
                "mylib": {"editable": True, "path": "./mylib"},
                "localwheel": {"file": "./dist/" + local_wheel.name},
                "gitpkg": {"git": repo.as_uri(), "ref": commit},
            }
        },
    )
    lock = json.loads((project / "Pipfile.lock").read_text())
    return Mixed(project, wh, repo, cli_env(tmp_path), tmp_path, lock)


def _poisoned_pip(tmp: Path) -> str:
    """A PYTHONPATH on which any pip process dies: proves that none was started."""
    poison = tmp / "poison" / "pip"
    poison.mkdir(parents=True, exist_ok=True)
    (poison / "__init__.py").write_text("raise SystemExit('pip was started')\n")
    (poison / "__main__.py").write_text("raise SystemExit('pip was started')\n")
    return str(poison.parent)


def _py(venv: Path, code: str) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True).stdout.strip()


def test_every_kind_syncs_then_resyncs_without_pip_then_offline(mixed: Mixed) -> None:
    venv = mixed.tmp / "venv"
    first = mixed.sync(venv, "--json")
    assert first.returncode == 0, first.stderr
    assert sorted(json.loads(first.stdout)["pip_installed"]) == ["gitpkg", "localwheel", "mylib"]
    assert installed(venv) == {
        "fastlib": "1.0",
        "speedup": "2.0",
        "mylib": "0.1",
        "localwheel": "3.0",
        "gitpkg": "1.0",
        "sdonly": "1.0",
    }
    assert _py(venv, "import sdonly; print(sdonly.KIND)") == "built from an sdist"
    # the editable install reads the source in place; its console script (written by pip in the
    # staging venv) names the final interpreter
    (mixed.project / "mylib" / "mylib" / "__init__.py").write_text("def main():\n    print('edited')\n")
    assert subprocess.run([str(venv / "bin" / "mylib-cli")], capture_output=True, text=True).stdout == "edited\n"
    assert _py(venv, "import gitpkg; print(gitpkg.WHO)") == "first"

    # a re-sync is a no-op that starts no pip: with the stamp, and with the full plan
    poison = _poisoned_pip(mixed.tmp)
    again = mixed.sync(venv, "--json", PYTHONPATH=poison)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["stamp_hit"] is True
    (venv / ".pipenv-sync-stamp.json").unlink()
    full = mixed.sync(venv, "--json", "--prune", PYTHONPATH=poison)
    assert full.returncode == 0, full.stderr
    data = json.loads(full.stdout)
    assert data["stamp_hit"] is False and data["pip_installed"] == [] and data["changed"] is False

    # with the network cut: a new commit of the git package, and changed build inputs of the editable one
    (mixed.repo / "gitpkg" / "__init__.py").write_text("WHO = 'second'\n")
    mixed.lock["default"]["gitpkg"]["ref"] = git_commit_all(mixed.repo, "second")
    mixed.write_lock()
    pyproject = mixed.project / "mylib" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1"', 'version = "0.1"\ndescription = "x"'))
    offline = mixed.sync(venv, "--offline", "--json")
    assert offline.returncode == 0, offline.stderr
    assert sorted(json.loads(offline.stdout)["pip_installed"]) == ["gitpkg", "mylib"]
    assert _py(venv, "import gitpkg; print(gitpkg.WHO)") == "second"


def test_a_wheel_built_from_an_sdist_is_reused_offline_without_pip(mixed: Mixed) -> None:
    only = {"_meta": mixed.lock["_meta"], "default": {"sdonly": mixed.lock["default"]["sdonly"]}, "develop": {}}
    mixed.lock = only
    mixed.write_lock()
    first = mixed.sync(mixed.tmp / "one", "--offline")
    assert first.returncode == 0, first.stderr
    assert "Building a wheel of sdonly==1.0 from sdonly-1.0.tar.gz" in first.stderr
    built = list((mixed.tmp / "cache" / "v1" / "built").glob("*/*/sdonly-1.0-*.whl"))
    assert len(built) == 1
    # another venv, no find-links, no pip: the built wheel from the cache
    poison = _poisoned_pip(mixed.tmp)
    env = {**mixed.env, "PYTHONPATH": poison}
    second = run_cli("--project", mixed.project, "--venv", mixed.tmp / "two", "--offline", env=env)
    assert second.returncode == 0, second.stderr
    assert "Building" not in second.stderr
    assert _py(mixed.tmp / "two", "import sdonly; print(sdonly.KIND)") == "built from an sdist"


def test_a_remote_vcs_entry_offline_fails_before_any_change(mixed: Mixed) -> None:
    venv = mixed.tmp / "venv"
    assert mixed.sync(venv).returncode == 0
    mixed.lock["default"]["remote"] = {"git": "https://example.invalid/remote.git", "ref": "a" * 40}
    mixed.write_lock()
    before = installed(venv)
    proc = mixed.sync(venv, "--offline", "--prune")
    assert proc.returncode == 4, proc.stderr
    assert "[default] remote (vcs): https://example.invalid/remote.git is not local" in proc.stderr
    assert installed(venv) == before


def test_path_install_is_redone_when_its_sources_change(tmp_path: Path) -> None:
    project = tmp_path / "p"
    write_local_package(project / "tool", "tool", "1.0", body="X = 1\n")
    write_project(project, {"default": {"tool": {"path": "./tool"}}})
    venv = tmp_path / "venv"
    env = cli_env(tmp_path)
    assert run_cli("--project", project, "--venv", venv, "--offline", env=env).returncode == 0
    assert _py(venv, "import tool; print(tool.X)") == "1"
    (project / "tool" / "tool" / "__init__.py").write_text("X = 22\n")  # the snapshot is stale now
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pip_installed"] == ["tool"]
    assert _py(venv, "import tool; print(tool.X)") == "22"


def test_star_entries_with_true_markers_are_an_incomplete_lock(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        {
            "default": {
                "winonly": {"version": "*", "markers": "sys_platform == 'win32'"},
                "needed": {"version": "*", "markers": "os_name == 'posix'"},
            }
        },
    )
    env = cli_env(tmp_path)
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--offline", env=env)
    assert proc.returncode == 0
    assert "incomplete for this platform, no pinned hashes for: [default] needed" in proc.stderr
    assert "winonly" not in proc.stderr
    deploy = run_cli("--project", project, "--venv", tmp_path / "v", "--offline", "--deploy", env=env)
    # the message is wrapped to the terminal's width, which the temporary path's length moves
    assert deploy.returncode == 1 and "(refused under --deploy)" in " ".join(deploy.stderr.split())


def test_conflict_check_catches_a_package_replaced_by_hand(tmp_path: Path) -> None:
    wh = tmp_path / "w"
    alpha2 = build_wheel(wh, "alpha", "2.0")
    alpha1 = build_wheel(wh, "alpha", "1.0")
    beta = build_wheel(wh, "beta", "1.5", requires=["alpha>=2"])
    old_style = build_wheel(wh, "oldstyle", "1.0", requires=["alpha<2", "gone-missing"])
    project = write_project(
        tmp_path / "p", {"default": {"alpha": lock_entry([alpha2], "2.0"), "beta": lock_entry([beta], "1.5")}}
    )
    env = cli_env(tmp_path)
    venv = tmp_path / "venv"
    assert run_cli("--project", project, "--venv", venv, "--offline", "--find-links", wh, env=env).returncode == 0
    # alpha replaced by hand with an incompatible version
    by_hand = write_project(tmp_path / "hand", {"default": {"alpha": lock_entry([alpha1], "1.0")}})
    assert run_cli("--project", by_hand, "--venv", venv, "--offline", "--find-links", wh, env=env).returncode == 0
    check = run_cli("--project", project, "--venv", venv, "--check", env=env)
    assert check.returncode == 5
    assert "alpha is 1.0, the lock wants 2.0" in check.stdout
    assert "beta 1.5 needs alpha>=2, found 1.0" in check.stdout
    # a sync puts alpha back; a package outside the lock that needs the old one is then reported
    extra = write_project(tmp_path / "extra", {"default": {"oldstyle": lock_entry([old_style], "1.0")}})
    assert run_cli("--project", extra, "--venv", venv, "--offline", "--find-links", wh, env=env).returncode == 0
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", wh, env=env)
    assert proc.returncode == 0
    assert "2 installed requirement(s) not met:\n  oldstyle 1.0 needs alpha<2, found 2.0\n" in proc.stderr
    assert "  oldstyle 1.0 needs gone-missing, missing\n" in proc.stderr
    deploy = run_cli("--project", project, "--venv", venv, "--offline", "--deploy", env=env)
    # the message is wrapped to the terminal's width, which the temporary path's length moves
    assert deploy.returncode == 1 and "(refused under --deploy)" in " ".join(deploy.stderr.split())
    assert run_cli("--project", project, "--venv", venv, "--prune", "--offline", "--deploy", env=env).returncode == 0
    assert installed(venv) == {"alpha": "2.0", "beta": "1.5"}


def test_extras_install_the_locked_dependencies_only(mixed: Mixed) -> None:
    venv = make_venv(mixed.tmp / "venv")
    del mixed.lock["default"]["speedup"]  # the extra's dependency is not locked: reported, not fetched
    mixed.write_lock()
    proc = mixed.sync(venv, "--offline")
    assert proc.returncode == 0
    assert "fastlib 1.0 needs speedup>=2, missing" in proc.stderr
    assert "speedup" not in installed(venv)
    assert os.path.exists(venv / "bin" / "mylib-cli")


def test_scripts_pip_wrote_in_a_fresh_venv_match_their_record(tmp_path: Path) -> None:
    project = tmp_path / "p"
    write_local_package(project / "tool", "tool", "1.0", scripts={"tool-cli": "tool:main"}, body="def main(): ...\n")
    write_local_package(project / "edit", "edit", "1.0", scripts={"edit-cli": "edit:main"}, body="def main(): ...\n")
    write_project(project, {"default": {"tool": {"path": "./tool"}, "edit": {"path": "./edit", "editable": True}}})
    venv = tmp_path / "venv"
    env = cli_env(tmp_path)
    assert run_cli("--project", project, "--venv", venv, "--offline", env=env).returncode == 0
    assert str(venv) in (venv / "bin" / "tool-cli").read_text().splitlines()[0]  # the final path, not staging
    proc = run_cli("--project", project, "--venv", venv, "--verify", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
