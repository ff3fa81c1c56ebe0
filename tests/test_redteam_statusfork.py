"""Red team of the forked status check (pipeline/statusfork.py): real CLI, loopback index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from . import test_status
from .support import installed
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
