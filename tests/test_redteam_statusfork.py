"""Red team of the forked status check (pipeline/statusfork.py): real CLI, loopback index."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import test_status
from .support import installed, lock_entry, sha256_file, write_project
from .test_status import World

world = test_status.world

CHILD = "status check: asked from a child process"

_HOLD = (
    "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); "
    "print('held', flush=True); time.sleep(float(sys.argv[2]))"
)


def _hold(directory: Path, seconds: float) -> subprocess.Popen[str]:
    """Another sync creating a venv in ``directory`` (its lock, target/venvlock.py) for ``seconds``."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, directory, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_answers_the_child_gave_in_time_count_when_the_sync_reaches_its_gate_later(world: World) -> None:
    # The child answers within its budget; the sync waits for the venv lock longer than that and
    # only then reads the pipe: the answers are there, as the threads' finished requests would be.
    code, out, _venv = world.sync("first")
    assert code == 0, out
    world.index.yanked[world.wheels["alpha"].name] = "broken build"
    env = {**world.env, "PIPENV_SYNC_STATUS_TIMEOUT": "1"}
    holder = _hold(world.tmp, 4.0)
    try:
        code, out, venv = world.sync("forked", "-v", "--deploy", env=env)
    finally:
        holder.wait()
    assert CHILD in out and "Waiting for another pipenv-sync" in out
    assert "did not answer" not in out
    assert code == 1, out
    assert "alpha==1.0 is yanked by" in out and "refused under --deploy" in out and not venv.exists()

    # the same wait with the threads: the same refusal
    world.index.yanked[world.wheels["beta"].name] = "also broken"
    holder = _hold(world.tmp, 4.0)
    try:
        code, out, venv = world.sync("threads", "-v", "--deploy", env={**env, "PIPENV_SYNC_STATUS_FORK": "0"})
    finally:
        holder.wait()
    assert code == 1 and "beta==2.0 is yanked by" in out and "did not answer" not in out, out
    assert installed(world.tmp / "first") == {"alpha": "1.0", "beta": "2.0"}


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_a_child_dies_with_a_sync_that_ends_without_stopping_it(world: World, how: str) -> None:
    # kill: subprocess.run(timeout=...) kills the sync alone (SIGKILL), then reads its pipes to the end.
    # ctrl-c: SIGINT to the process group of an in-place sync not yet changed ends it by os._exit
    # (cli/interrupt.py), past the finally that stops the child, which ignores SIGINT.
    # Either way the child, waiting on a slow index, held the pipes open and went on asking, for no one.
    code, out, _venv = world.sync("first")
    assert code == 0, out
    write_project(
        world.project, {"default": {"alpha": lock_entry([world.wheels["alpha"]], "1.0")}}, index_url=world.index.url
    )
    world.index.page_delay = 6.0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipenv_sync_ext",
            "--project",
            world.project,
            "--venv",
            world.tmp / "first",
            "--prune",
            "-v",
        ],
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 5
    children: list[str] = []
    while not children and time.monotonic() < deadline:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        time.sleep(0.02)
    assert len(children) == 1, children  # the child asking the index
    child = int(children[0])
    while not world.index.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert world.index.requests  # the child is waiting on the index
    # and the sync past its imports (its Ctrl-C handler set: it says so under -v), then at the gate
    seen = ""
    while "asked from a child process" not in seen and time.monotonic() < deadline + 10:
        if select.select([proc.stderr], [], [], 0.1)[0]:
            seen += proc.stderr.readline()
    assert "asked from a child process" in seen, seen
    time.sleep(0.5)
    if how == "kill":
        proc.kill()
    else:
        os.killpg(proc.pid, signal.SIGINT)
    ended = time.monotonic()
    _out, err = proc.communicate(timeout=30)
    assert time.monotonic() - ended < 2.0, err  # not the index's 6 s
    # dead within the same 2 s (its watcher wakes when the pipe's reader is gone: not at the same instant)
    while _state(child) not in ("Z", "X", "gone") and time.monotonic() - ended < 2.0:
        time.sleep(0.02)
    assert _state(child) in ("Z", "X", "gone")  # dead; its new parent reaps it
    if how == "ctrl-c":
        assert proc.returncode == 130 and "was not changed" in err, err
    assert installed(world.tmp / "first") == {"alpha": "1.0", "beta": "2.0"}


def test_a_huge_status_timeout_is_a_long_one_not_a_traceback(world: World) -> None:
    # PIPENV_SYNC_STATUS_TIMEOUT=1e300 is "a positive number": its deadline overflowed select() in the
    # parent of a child, and Lock.acquire() in the threads
    code, out, _venv = world.sync("first")
    assert code == 0, out
    world.index.page_delay = 0.3  # the answers are still on their way when the gate asks for them
    env = {**world.env, "PIPENV_SYNC_STATUS_TIMEOUT": "1e300"}
    for name, extra in (("forked", {}), ("threads", {"PIPENV_SYNC_STATUS_FORK": "0"})):
        code, out, venv = world.sync(name, "-v", env={**env, **extra})
        assert code == 0 and "Traceback" not in out, out
        assert (CHILD in out) == (name == "forked")
        assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_answers_larger_than_a_pipe_count_when_the_sync_reaches_its_gate_late(world: World) -> None:
    # The child's answers do not fit in the pipe (a project with thousands of yanked files): it waits,
    # blocked in write, while the sync waits for the venv lock; then the sync reads them all.
    code, out, _venv = world.sync("first")
    assert code == 0, out
    alpha = world.wheels["alpha"]
    files = [
        {"filename": f"alpha-0.{i}-py3-none-any.whl", "url": f"../../files/x{i}", "hashes": {"sha256": f"{i:064x}"}}
        | {"yanked": f"old build {i} " + "x" * 60}
        for i in range(3000)
    ]
    files.append(
        {"filename": alpha.name, "url": f"../../files/{alpha.name}", "hashes": {"sha256": sha256_file(alpha)}}
        | {"yanked": "broken build"}
    )
    page = {"meta": {"api-version": "1.0"}, "name": "alpha", "files": files}
    world.index.raw_pages["alpha"] = ("application/vnd.pypi.simple.v1+json", json.dumps(page).encode())
    env = {**world.env, "PIPENV_SYNC_STATUS_TIMEOUT": "2"}
    holder = _hold(world.tmp, 5.0)
    try:
        code, out, venv = world.sync("forked", "-v", "--deploy", env=env)
    finally:
        holder.wait()
    assert CHILD in out and "Waiting for another pipenv-sync" in out
    assert "did not answer" not in out and "gave no answer" not in out, out
    assert code == 1, out
    assert "alpha==1.0 is yanked by" in out and "broken build" in out and not venv.exists()


@pytest.mark.parametrize("fork", ["1", "0"])
def test_a_refusal_for_stale_status_alone_does_not_say_packages_were_withdrawn(world: World, fork: str) -> None:
    # a yank is a warning here; the one error is the stale status: it was headed "1 locked package(s)
    # withdrawn by the index", with the re-lock hint, for packages nobody withdrew
    code, out, _venv = world.sync("first")
    assert code == 0, out
    world.index.yanked[world.wheels["alpha"].name] = "broken build"
    code, out, _venv = world.sync("second")  # the yank is cached
    assert code == 0 and "alpha==1.0 is yanked by" in out, out
    world.index.page_delay = 2.0
    env = {**world.env, "PIPENV_SYNC_STATUS_TIMEOUT": "0.3", "PIPENV_SYNC_STATUS_FORK": fork}
    code, out, venv = world.sync("stale", "--status-max-age", "0", "--require-fresh-status", env=env)
    assert code == 1 and not venv.exists(), out
    assert "withdrawn by the index" not in out and "hint: re-lock" not in out, out
    assert "--require-fresh-status: the index status of the lock is not known fresh" in out
    assert "older than --status-max-age" in out

    # with a package refused as well, the headline counts the withdrawn packages only
    code, out, venv = world.sync("both", "--deploy", "--status-max-age", "0", "--require-fresh-status", env=env)
    assert code == 1 and not venv.exists(), out
    assert "1 locked package(s) withdrawn by the index" in out and "refused under --deploy" in out
    assert "older than --status-max-age" in out


def test_how_the_check_ran_is_said_under_verbose_only(world: World) -> None:
    # README: "-v: status check: asked from a child process"; it was said on every warm sync, with a pid
    code, out, _venv = world.sync("first")
    assert code == 0, out
    code, out, _venv = world.sync("quiet")
    assert code == 0, out
    assert "status check:" not in out and out.strip().splitlines()[-1].startswith("Synced"), out
    code, out, _venv = world.sync("verbose", "-v")
    assert code == 0 and CHILD in out, out
