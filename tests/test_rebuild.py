"""``--rebuild``: the old venv is renamed aside and deleted after the new one is in place.

The deletion runs in a thread after the swap (shown here by holding it back:
the new venv is in place while the old one still waits, renamed aside), and
the CLI does not exit before it is done. What a killed rebuild leaves beside
the venv (found by name, ``.<name>.pipenv-sync-old-*`` / ``-new-*``) is removed
by the next sync, even one the stamp would have answered; anything else beside
the venv (a symlink or file with such a name, another venv's leftovers) is
never touched.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from pipenv_sync_ext.target import venv as venvmod

from .support import build_wheel, cli_env, installed, lock_entry, make_venv, run_cli, snapshot_tree, write_project


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    wheels = tmp_path / "wheels"
    alpha = build_wheel(wheels, "alpha", "1.0")
    return write_project(tmp_path / "project", {"default": {"alpha": lock_entry([alpha], "1.0")}}), wheels


def _sync(tmp: Path, project: tuple[Path, Path], *args: str | Path) -> tuple[int, str]:
    """Exit code, and stdout + stderr."""
    proc = run_cli(
        "--project",
        project[0],
        "--venv",
        tmp / "venv",
        "--offline",
        "--find-links",
        project[1],
        *args,
        env=cli_env(tmp),
    )
    return proc.returncode, proc.stdout + proc.stderr


def _beside(tmp: Path) -> list[str]:
    return sorted(n for n in os.listdir(tmp) if n.startswith(".venv."))


def test_rebuild_replaces_the_venv_and_leaves_nothing_beside_it(tmp_path: Path, project: tuple[Path, Path]) -> None:
    assert _sync(tmp_path, project)[0] == 0
    old_marker = tmp_path / "venv" / "lib" / "old-marker"
    old_marker.write_text("from the old venv")
    inode = (tmp_path / "venv").stat().st_ino
    code, err = _sync(tmp_path, project, "--rebuild")
    assert code == 0, err
    assert (tmp_path / "venv").stat().st_ino != inode
    assert not old_marker.exists()
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert _beside(tmp_path) == []  # the deletion was joined before the CLI exited


def test_the_swap_does_not_wait_for_the_deletion(tmp_path: Path) -> None:
    final, staging = make_venv(tmp_path / "venv"), make_venv(tmp_path / ".venv.pipenv-sync-new-x")
    (final / "old").write_text("old")
    (staging / "new").write_text("new")
    release, held = threading.Event(), threading.Event()
    real_rmtree = shutil.rmtree

    def held_back(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        held.set()
        release.wait()
        real_rmtree(path, ignore_errors=True)

    threads_before = set(threading.enumerate())
    shutil.rmtree = held_back  # type: ignore[assignment]
    try:
        venvmod.swap_in(staging, final)
        held.wait()
        # Swapped in while the old venv waits, renamed aside, for its deletion.
        assert (final / "new").exists() and not (final / "old").exists()
        trash = [n for n in _beside(tmp_path) if n.startswith(".venv.pipenv-sync-old-")]
        assert len(trash) == 1 and (tmp_path / trash[0] / "venv" / "old").exists()
    finally:
        shutil.rmtree = real_rmtree
        release.set()
    for thread in set(threading.enumerate()) - threads_before:
        thread.join()
    assert _beside(tmp_path) == []


def test_what_a_killed_rebuild_left_is_removed_by_the_next_sync(tmp_path: Path, project: tuple[Path, Path]) -> None:
    assert _sync(tmp_path, project)[0] == 0
    # As a sync killed after the rename aside, or while it built beside, leaves them.
    trash = tmp_path / ".venv.pipenv-sync-old-k1ll3d" / "venv"
    shutil.copytree(tmp_path / "venv", trash, symlinks=True)
    (tmp_path / ".venv.pipenv-sync-new-h4lf").mkdir()
    (tmp_path / ".venv.pipenv-sync-new-h4lf" / "pyvenv.cfg").write_text("home = /nowhere\n")
    # Not ours, though named alike: kept, and what a link points at is untouched.
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "data").write_text("precious")
    os.symlink(outside, tmp_path / ".venv.pipenv-sync-old-link")
    (tmp_path / ".venv.pipenv-sync-old-file").write_text("a file")
    (tmp_path / ".other.pipenv-sync-old-1").mkdir()
    (tmp_path / "venv.pipenv-sync-old-2").mkdir()
    before = snapshot_tree(outside)

    check = run_cli("--project", project[0], "--venv", tmp_path / "venv", "--check", "--offline", env=cli_env(tmp_path))
    assert check.returncode == 0, check.stderr
    assert (tmp_path / ".venv.pipenv-sync-old-k1ll3d").exists()  # --check changes nothing

    code, out = _sync(tmp_path, project)  # the stamp would answer, but for what is left beside
    assert code == 0, out
    assert "(sync stamp)" not in out
    assert _beside(tmp_path) == [".venv.pipenv-sync-old-file", ".venv.pipenv-sync-old-link"]
    assert (tmp_path / ".other.pipenv-sync-old-1").is_dir() and (tmp_path / "venv.pipenv-sync-old-2").is_dir()
    assert snapshot_tree(outside) == before
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert "(sync stamp)" in _sync(tmp_path, project)[1]  # nothing of ours left: the stamp answers again
