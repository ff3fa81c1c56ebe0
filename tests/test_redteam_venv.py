"""Red team: directories named like a rebuild's leftovers (``.<venv>.pipenv-sync-old-*``/``-new-*``) beside
a venv are deleted by the next sync only when they are ours: made by this user, holding only what ours hold."""

from __future__ import annotations

from pathlib import Path

from .support import build_wheel, cli_env, lock_entry, run_cli, write_project


def test_look_alikes_of_our_leftovers_are_never_deleted(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    alpha = build_wheel(wheels, "alpha", "1.0")
    project = write_project(tmp_path / "proj", {"default": {"alpha": lock_entry([alpha], "1.0")}})
    env, venv = cli_env(tmp_path), tmp_path / "venv"
    args: list[str | Path] = ["--project", project, "--venv", venv, "--offline", "--find-links", wheels]
    assert run_cli(*args, env=env).returncode == 0
    backup = tmp_path / ".venv.pipenv-sync-old-mybackup"  # someone's own files, under a name like ours
    (backup / "venv").mkdir(parents=True)
    (backup / "thesis.tex").write_text("years of work")
    notes = tmp_path / ".venv.pipenv-sync-new-notes"
    (notes / "bin").mkdir(parents=True)
    (notes / "notes.txt").write_text("mine")
    ours = tmp_path / ".venv.pipenv-sync-old-k1ll3d00"  # what a sync killed while deleting the old venv leaves
    (ours / "venv" / "lib").mkdir(parents=True)
    (ours / "venv" / "lib" / "left.py").write_text("")
    (venv / ".pipenv-sync-stamp.json").unlink()
    proc = run_cli(*args, "--prune", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (backup / "thesis.tex").read_text() == "years of work"
    assert (notes / "notes.txt").read_text() == "mine"
    assert not ours.exists()
    # The look-alikes alone do not keep the sync stamp from answering (one definition of "ours", fastpath/identity.py)
    again = run_cli(*args, "--prune", env=env)
    assert again.returncode == 0 and "sync stamp" in again.stdout, again.stdout + again.stderr
