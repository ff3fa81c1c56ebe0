"""Interruptions: a --prune of a large package cut short by Ctrl-C (SIGINT) or SIGKILL, two syncs of one venv
with different caches, recovery records a wheel forged, and the journal after a clean failure.

Everything is real: wheels built here, the real CLI as a subprocess, real venvs, and the venv's own python
importing what was installed. ``install/failpoints.py`` interrupts or holds a sync at its Nth file operation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import (
    build_wheel,
    cli_env,
    error_text,
    installed,
    lock_entry,
    make_venv,
    start_cli,
    sync_offline_pruned,
    write_project,
)

BIG_FILES = 2000
JOURNAL = ".pipenv-sync-journal.json"


def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a file's sha256, a link's target, or "dir"."""
    result: dict[str, str] = {}
    if not root.exists():
        return result
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                result[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                result[rel] = "dir"
            else:
                result[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


@dataclass
class World:
    tmp: Path
    wheels: Path
    with_big: Path  # a project locking big and small
    without_big: Path  # small and other: a --prune sync of it removes big
    env: dict[str, str]
    template: Path  # a venv synced to with_big, copied for each case

    def sync(self, project: Path, venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return sync_offline_pruned(project, venv, *args, wheels=self.wheels, env={**self.env, **env})

    def fresh_venv(self) -> Path:
        """The venv synced to with-big, at the path it was made at (a venv is not movable)."""
        venv = self.tmp / "venv"
        shutil.rmtree(venv, ignore_errors=True)
        shutil.copytree(self.template, venv, symlinks=True)
        return venv


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("interrupts")
    wheels = tmp / "wheels"
    files = {f"big/part{i // 100}/m{i}.py": f"X = {i}\n".encode() for i in range(BIG_FILES)}
    files["big/__init__.py"] = b"from big.part19.m1999 import X\n"
    for part in range(BIG_FILES // 100):
        files[f"big/part{part}/__init__.py"] = b""
    big = build_wheel(wheels, "big", "1.0", files=files, console_scripts={"big-tool": "big:X"})
    small = build_wheel(wheels, "small", "1.0")
    other = build_wheel(wheels, "other", "1.0", files={f"other/f{i}.py": b"Y = 1\n" for i in range(20)})
    with_big = write_project(
        tmp / "with-big", {"default": {"big": lock_entry([big], "1.0"), "small": lock_entry([small], "1.0")}}
    )
    without_big = write_project(
        tmp / "without-big", {"default": {"small": lock_entry([small], "1.0"), "other": lock_entry([other], "1.0")}}
    )
    env = cli_env(tmp)
    venv = make_venv(tmp / "venv")
    w = World(tmp, wheels, with_big, without_big, env, tmp / "template")
    done = w.sync(with_big, venv)
    assert done.returncode == 0, done.stderr
    shutil.copytree(venv, w.template, symlinks=True)
    return w


def _site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


def _importable(venv: Path, *modules: str) -> None:
    code = "; ".join(f"import {m}" for m in modules)
    proc = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _assert_clean(world: World, project: Path, venv: Path, expected: dict[str, str], modules: tuple[str, ...]) -> None:
    assert installed(venv) == expected
    verified = world.sync(project, venv, "--verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    _importable(venv, *modules)
    assert not (venv / JOURNAL).exists()
    assert not list(_site(venv).glob("*.pipenv-sync-partial"))


WITH_BIG = {"big": "1.0", "small": "1.0"}
WITHOUT_BIG = {"small": "1.0", "other": "1.0"}


# Points in a --prune from with-big to without-big: its first deletion, mid-way through big's 2,000 files,
# among its last files and its metadata, and in the install of "other" that follows (2030, 2040).
@pytest.mark.parametrize("signal_name", ["INT", "KILL"])
@pytest.mark.parametrize("point", [1, 900, 2001, 2012, 2030, 2040])
def test_an_interrupted_prune_then_another_selection_ends_clean(world: World, signal_name: str, point: int) -> None:
    venv = world.fresh_venv()
    sibling = world.tmp / "sibling-prune"
    sibling.mkdir(exist_ok=True)
    (sibling / "notes.txt").write_text("mine")
    before_sibling, before_cache = tree(sibling), tree(world.tmp / "cache")
    cut = world.sync(world.without_big, venv, PIPENV_SYNC_TEST_CRASH_AFTER=str(point), **_signal(signal_name))
    if signal_name == "KILL":
        assert cut.returncode == -9, cut.stderr
    else:
        assert cut.returncode == 130 and "interrupted while changing" in cut.stderr, cut.stderr
    assert (venv / JOURNAL).exists()  # cut mid-change: the journal says so
    check = world.sync(world.with_big, venv, "--check")
    assert check.returncode == 5 and "was interrupted" in check.stdout + check.stderr

    # Another selection: the one that wants big back. Before the fix big stayed registered with files missing.
    again = world.sync(world.with_big, venv)
    assert again.returncode == 0, again.stderr
    _assert_clean(world, world.with_big, venv, WITH_BIG, ("big", "small"))
    assert len(list((_site(venv) / "big").rglob("m*.py"))) == BIG_FILES
    assert (venv / "bin" / "big-tool").exists()
    assert "unfinished removal(s) completed" in again.stderr

    # And the selection that was interrupted, to the end.
    final = world.sync(world.without_big, venv)
    assert final.returncode == 0, final.stderr
    _assert_clean(world, world.without_big, venv, WITHOUT_BIG, ("small", "other"))
    assert not (_site(venv) / "big").exists() and not (venv / "bin" / "big-tool").exists()
    assert tree(sibling) == before_sibling
    after_cache = tree(world.tmp / "cache")
    assert {k: v for k, v in after_cache.items() if k in before_cache} == before_cache  # the store only grew


def _signal(name: str) -> dict[str, str]:
    return {"PIPENV_SYNC_TEST_CRASH_SIGNAL": name}


def test_an_interrupted_prune_resumed_with_the_same_selection_ends_clean(world: World) -> None:
    venv = world.fresh_venv()
    cut = world.sync(world.without_big, venv, PIPENV_SYNC_TEST_CRASH_AFTER="1200")
    assert cut.returncode == -9
    again = world.sync(world.without_big, venv)
    assert again.returncode == 0, again.stderr
    _assert_clean(world, world.without_big, venv, WITHOUT_BIG, ("small", "other"))
    assert not (_site(venv) / "big").exists()


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the held sync ended early: {proc.communicate()}")
        time.sleep(0.02)


def test_two_syncs_of_one_venv_with_different_caches_never_interleave(world: World) -> None:
    venv = world.fresh_venv()
    hold = world.tmp / "hold-two-caches"
    first_env = {
        **world.env,
        "PIPENV_SYNC_CACHE_DIR": str(world.tmp / "cache-one"),
        "PIPENV_SYNC_TEST_HOLD_AFTER": "50",
        "PIPENV_SYNC_TEST_HOLD_FILE": str(hold),
    }
    args: list[str | Path] = [
        "--project",
        world.without_big,
        "--venv",
        venv,
        "--offline",
        "--prune",
        "--find-links",
        world.wheels,
    ]
    first = start_cli(*args, env=first_env)
    try:
        _wait_for(hold, first)  # the first sync is mid-removal of big, and stays there
        during = tree(venv)
        other_cache = {"PIPENV_SYNC_CACHE_DIR": str(world.tmp / "cache-two")}
        second = world.sync(world.with_big, venv, "--lock-timeout", "0.3", **other_cache)
        assert second.returncode != 0
        assert "another pipenv-sync of it is running" in second.stderr
        assert "Waiting for another pipenv-sync" in second.stderr
        check = world.sync(world.with_big, venv, "--check", "--lock-timeout", "0.3", **other_cache)
        assert check.returncode != 0 and "another pipenv-sync of it is running" in check.stderr
        assert tree(venv) == during  # neither touched the venv while the first held it
        assert not (world.tmp / "cache-two").exists() or not list((world.tmp / "cache-two").rglob("*.lock"))
    finally:
        hold.unlink(missing_ok=True)
        _out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    _assert_clean(world, world.without_big, venv, WITHOUT_BIG, ("small", "other"))
    # Once it is done, the other cache's sync runs: it waits (no timeout) instead of failing.
    after = world.sync(world.with_big, venv, PIPENV_SYNC_CACHE_DIR=str(world.tmp / "cache-two"))
    assert after.returncode == 0, after.stderr
    _assert_clean(world, world.with_big, venv, WITH_BIG, ("big", "small"))


def test_check_waits_for_a_running_sync_instead_of_reporting_its_half_done_state(world: World) -> None:
    venv = world.fresh_venv()
    hold = world.tmp / "hold-check"
    args: list[str | Path] = [
        "--project",
        world.without_big,
        "--venv",
        venv,
        "--offline",
        "--prune",
        "--find-links",
        world.wheels,
    ]
    env = {**world.env, "PIPENV_SYNC_TEST_HOLD_AFTER": "700", "PIPENV_SYNC_TEST_HOLD_FILE": str(hold)}
    first = start_cli(*args, env=env)
    try:
        _wait_for(hold, first)
        log = world.tmp / "check-stderr.txt"
        with log.open("w") as sink:
            check = start_cli(*args, "--check", env=world.env, stderr=sink)
        # The check says it waits (it cannot finish while the sync is held), then answers once it is done.
        while "Waiting for another pipenv-sync" not in log.read_text():
            assert check.poll() is None, (check.communicate(), log.read_text())
            time.sleep(0.02)
    finally:
        hold.unlink(missing_ok=True)
        first.communicate(timeout=300)
    out, _ = check.communicate(timeout=300)
    err = log.read_text()
    assert first.returncode == 0
    assert check.returncode == 0, out + err  # in sync: no half-done differences, no "interrupted"
    assert "interrupted" not in out + err


def _forged_partial(tmp: Path, site: Path, targets: list[Path]) -> Path:
    """A wheel shipping a ``*.pipenv-sync-partial`` directory whose write-ahead lists name ``targets``."""
    lines = "".join(f"N\t{t}\n" for t in targets)  # the old line format
    lines += json.dumps({"format": 1, "token": "0" * 32}) + "\n"  # a guessed token
    lines += "".join(json.dumps({"path": str(t), "existed": False}) + "\n" for t in targets)
    files = {
        "evil/__init__.py": b"",
        "victim-1.0.dist-info.pipenv-sync-partial/.pipenv-sync-written": lines.encode(),
        "victim-1.0.dist-info.pipenv-sync-partial/METADATA": b"Metadata-Version: 2.1\nName: victim\nVersion: 1.0\n",
    }
    return build_wheel(tmp / "evil-wheels", "evil", "1.0", files=files)


def test_a_partial_directory_shipped_inside_a_wheel_is_never_acted_on(world: World) -> None:
    venv = world.fresh_venv()
    site = _site(venv)
    sibling = world.tmp / "sibling"
    sibling.mkdir(exist_ok=True)
    (sibling / "precious.txt").write_text("keep me")
    kept = site / "small" / "__init__.py"
    evil = _forged_partial(world.tmp, site, [sibling / "precious.txt", kept])
    shutil.copy(evil, world.wheels / evil.name)
    small = next(world.wheels.glob("small-*.whl"))
    other = next(world.wheels.glob("other-*.whl"))
    entries = {"small": lock_entry([small], "1.0"), "evil": lock_entry([evil], "1.0")}
    with_evil = write_project(world.tmp / "with-evil", {"default": entries})
    plus_other = write_project(world.tmp / "plus-other", {"default": {**entries, "other": lock_entry([other], "1.0")}})
    try:
        first = world.sync(with_evil, venv)
        if first.returncode != 0:  # refused in preflight (a member named like our staging): that is safe too
            assert "evil" in first.stderr and (sibling / "precious.txt").read_text() == "keep me"
            return
        before = tree(sibling)
        kept_bytes = kept.read_bytes()
        # A sync cut short while installing "other": the next run recovers, and sees the forged directory.
        cut = world.sync(plus_other, venv, PIPENV_SYNC_TEST_CRASH_AFTER="3")
        assert cut.returncode == -9
        for project, expected in ((plus_other, {"evil", "small", "other"}), (with_evil, {"evil", "small"})):
            done = world.sync(project, venv)
            assert done.returncode == 0, done.stderr
            assert set(installed(venv)) == expected
            assert tree(sibling) == before and kept.read_bytes() == kept_bytes
            assert (site / "victim-1.0.dist-info.pipenv-sync-partial" / ".pipenv-sync-written").exists()  # evil's
            assert world.sync(project, venv, "--verify").returncode == 0
    finally:
        (world.wheels / evil.name).unlink()


def test_a_clean_failure_leaves_no_journal_and_check_does_not_say_interrupted(world: World) -> None:
    venv = world.fresh_venv()
    site = _site(venv)
    (site / "other" / "f3.py").mkdir(parents=True)  # a directory where "other" installs a file
    (site / "other" / "f3.py" / "someone-elses.txt").write_text("x")
    sibling = world.tmp / "sibling-clean"
    sibling.mkdir(exist_ok=True)
    (sibling / "file.txt").write_text("x")
    before_sibling = tree(sibling)
    failed = world.sync(world.without_big, venv)
    assert failed.returncode != 0
    assert error_text(failed.stderr, hint=False).startswith("pipenv-sync: error: "), failed.stderr  # no traceback
    assert "other" in failed.stderr
    assert not (venv / JOURNAL).exists()
    assert not list(site.glob("*.pipenv-sync-partial"))
    check = world.sync(world.without_big, venv, "--check")
    assert check.returncode == 5 and "interrupted" not in check.stdout + check.stderr
    assert tree(sibling) == before_sibling
    shutil.rmtree(site / "other" / "f3.py")
    fixed = world.sync(world.without_big, venv)
    assert fixed.returncode == 0, fixed.stderr
    _assert_clean(world, world.without_big, venv, WITHOUT_BIG, ("small", "other"))


def test_a_forged_journal_cannot_lead_recovery_outside_the_venv(world: World) -> None:
    venv = world.fresh_venv()
    site = _site(venv)
    sibling = world.tmp / "sibling-journal"
    sibling.mkdir(exist_ok=True)
    (sibling / "precious.txt").write_text("keep")
    (sibling / "meta").mkdir(exist_ok=True)
    escape = f"{site}/../../../../{sibling.name}/precious.txt"
    forged = {
        "format": 1,
        "token": "1" * 32,
        "started": 0,
        "pid": 1,
        "installing": [],
        "removing": [
            {
                "name": "x",
                "metadata_dir": str(sibling / "meta"),
                "site_dir": str(sibling),
                "files": [str(sibling / "precious.txt"), escape, "relative/path.py", f"{site}/small/\u2028x"],
                "metadata_files": [str(sibling / "precious.txt")],
            }
        ],
    }
    (venv / JOURNAL).write_text(json.dumps(forged) + "\n")
    (venv / ".pipenv-sync-stamp.json").unlink()  # as a sync cut short leaves it: no stamp
    before = tree(sibling)
    done = world.sync(world.with_big, venv)
    assert done.returncode == 0, done.stderr
    assert tree(sibling) == before
    _assert_clean(world, world.with_big, venv, WITH_BIG, ("big", "small"))
