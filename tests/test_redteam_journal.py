"""Red team: a journal planted in the venv (its token is its own) never deletes what another distribution owns.

A journal is a file in the venv: a venv unpacked from an archive, or shared with
another user, may carry one that nobody's sync wrote. Recovery completes what it
lists only for a real metadata directory in a site directory, and only the paths
that distribution's own RECORD lists. Each test plants one, removes the stamp
(so the next sync plans), syncs with the real CLI and checks the files and ``--verify``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .support import build_wheel, cli_env, installed, lock_entry, run_cli, write_project


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, str]]:
    wheels = tmp_path / "wheels"
    alpha, beta = build_wheel(wheels, "alpha", "1.0"), build_wheel(wheels, "beta", "2.0")
    project = write_project(
        tmp_path / "proj", {"default": {"alpha": lock_entry([alpha], "1.0"), "beta": lock_entry([beta], "2.0")}}
    )
    env = cli_env(tmp_path)
    venv = tmp_path / "venv"
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", wheels, env=env)
    assert proc.returncode == 0, proc.stderr
    return project, venv, wheels, env


def plant(venv: Path, *removing: dict[str, Any]) -> None:
    journal = {"format": 1, "pid": 1, "token": "0" * 32, "started": 0.0, "installing": [], "removing": list(removing)}
    (venv / ".pipenv-sync-journal.json").write_text(json.dumps(journal) + "\n")
    (venv / ".pipenv-sync-stamp.json").unlink()


def sync_and_verify(project: Path, venv: Path, wheels: Path, env: dict[str, str]) -> None:
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", wheels, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "repairing it" in proc.stderr  # the journal was read, and acted on as far as it may be
    assert not (venv / ".pipenv-sync-journal.json").exists()
    check = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", wheels, "--verify", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_a_planted_journal_naming_the_site_directory_as_metadata_deletes_no_kept_file(
    synced: tuple[Path, Path, Path, dict[str, str]],
) -> None:
    project, venv, wheels, env = synced
    site = next((venv / "lib").glob("python*/site-packages"))
    victim = site / "beta" / "__init__.py"
    # the site directory as a "metadata directory", a kept package's module as its "metadata file"
    plant(venv, {"name": "ghost", "metadata_dir": str(site), "site_dir": str(venv / "x"), "files": [],
                 "metadata_files": [str(victim)]})  # fmt: skip
    sync_and_verify(project, venv, wheels, env)
    assert victim.is_file()


def test_a_planted_journal_deletes_only_what_the_named_distributions_record_lists(
    synced: tuple[Path, Path, Path, dict[str, str]],
) -> None:
    project, venv, wheels, env = synced
    site = next((venv / "lib").glob("python*/site-packages"))
    outsiders = [venv / "pyvenv.cfg", venv / "bin" / "python", venv / "bin" / "activate"]
    beta_info = site / "beta-2.0.dist-info"
    plant(
        venv,
        # a distribution that is not there: none of its "files" is anyone's it may delete
        {"name": "ghost", "metadata_dir": str(site / "ghost-1.0.dist-info"), "site_dir": str(site),
         "files": [str(p) for p in outsiders], "metadata_files": []},
        # a real one: its removal is completed (the plan then reinstalls it), but only its own files go
        {"name": "beta", "metadata_dir": str(beta_info), "site_dir": str(site),
         "files": [str(site / "alpha" / "__init__.py"), *map(str, outsiders)], "metadata_files": []},
    )  # fmt: skip
    sync_and_verify(project, venv, wheels, env)
    assert all(p.exists() for p in outsiders)
    assert (site / "alpha" / "__init__.py").is_file()
