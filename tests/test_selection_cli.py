"""pipenv's selection semantics through the real CLI, for sync and fetch alike (locks written here:
the cases ``pipenv lock`` itself writes are in ``test_real_locks.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, write_project


@dataclass
class Project:
    path: Path
    env: dict[str, str]
    wheels: dict[str, Path]


@pytest.fixture
def project(tmp_path: Path, index: Index) -> Project:
    wh = tmp_path / "wheels"
    w = {v: build_wheel(wh, "six", v) for v in ("1.15.0", "1.16.0", "1.17.0")}
    w["alpha"] = build_wheel(wh, "alpha", "1.0")
    w["pywin32"] = build_wheel(wh, "pywin32", "306", tag="cp311-cp311-win_amd64")
    for path in w.values():
        index.add(path)
    path = write_project(
        tmp_path / "proj",
        {
            "default": {
                "six": lock_entry([w["1.15.0"]], "1.15.0"),
                "alpha": lock_entry([w["alpha"]], "1.0"),
                # the lock entry: a Pipfile shorthand key kept in the lock
                "pywin32": {"os_name": "== 'nt'", "version": "*"},
            },
            "develop": {"six": lock_entry([w["1.16.0"]], "1.16.0")},
            "docs": {
                "six": lock_entry([w["1.17.0"]], "1.17.0"),
                # pinned and hashed, with a shorthand key: pipenv's sync would install it on Linux
                "winhelper": lock_entry([w["pywin32"]], "306", sys_platform="== 'win32'"),
            },
        },
        index_url=index.url,
    )
    return Project(path, cli_env(tmp_path), w)


def test_shorthand_marker_keys_in_lock_entries_are_markers(project: Project, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    proc = run_cli("--project", project.path, "--venv", venv, "--deploy", "--json", env=project.env)
    assert proc.returncode == 0, proc.stderr
    assert "incomplete" not in proc.stderr
    skipped = json.loads(proc.stdout)["skipped"]
    assert [(s["name"], s["reason"]) for s in skipped] == [
        ("pywin32", "markers false for this interpreter: os_name == 'nt'")
    ]
    assert installed(venv) == {"alpha": "1.0", "six": "1.15.0"}


def test_later_category_wins_said_once_and_deploy_keeps_it_a_warning(project: Project, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    proc = run_cli("--project", project.path, "--venv", venv, "--all", "--deploy", env=project.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha": "1.0", "six": "1.17.0"}
    warnings = [line for line in proc.stderr.splitlines() if "pinned differently" in line]
    assert len(warnings) == 1
    assert "\n  six [default] 1.15.0, [develop] 1.16.0, [docs] 1.17.0 -> 1.17.0\n" in proc.stderr
    # as typed: docs first, then packages, whose pin is installed last
    proc = run_cli("--project", project.path, "--venv", venv, "--categories", "docs packages", env=project.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha": "1.0", "six": "1.15.0"}
    assert "six [docs] 1.17.0, [default] 1.15.0 -> 1.15.0" in proc.stderr


def test_fetch_takes_the_same_selection(project: Project, tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    proc = run_cli("fetch", "--project", project.path, "--all", "--wheelhouse", wheelhouse, env=project.env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in wheelhouse.glob("*.whl")) == [
        project.wheels["alpha"].name,
        "six-1.17.0-py3-none-any.whl",
    ]
    assert proc.stderr.count("pinned differently in the selected categories") == 1


def test_an_unknown_category_is_a_one_line_error(project: Project, tmp_path: Path) -> None:
    proc = run_cli(
        "--project", project.path, "--venv", tmp_path / "v", "--categories", "dosc", "--prune", env=project.env
    )
    assert proc.returncode == 1
    first, hint = proc.stderr.strip().splitlines()  # the headline and the fix
    assert "no category 'dosc' in the lock or Pipfile (it has: default, develop, docs" in first
    assert hint.startswith("hint: pass --categories with one of those")
    assert not (tmp_path / "v").exists()
