"""The edges of the command line: --help, usage errors (exit 2), Ctrl-C (exit 130), closed pipes, and the details.

Every test runs the real CLI as a subprocess; Ctrl-C is a real SIGINT sent at
a known point (a download the loopback server never answers, a build backend
that waits for the test), never a timer.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipenv_sync_ext.cli.commands import build_parser as commands_parser
from pipenv_sync_ext.feedback import human_size

from .support import (
    Index,
    build_wheel,
    cli_env,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    snapshot,
    write_local_package,
    write_project,
)

CLI = [sys.executable, "-m", "pipenv_sync_ext"]


def _subcommands() -> list[str]:
    parser = commands_parser()
    return [
        name for action in parser._actions if isinstance(action, argparse._SubParsersAction) for name in action.choices
    ]


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    proc = run_cli("--help", env=cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    names = _subcommands()
    assert {"fetch", "cache"} <= set(names)
    listed = proc.stdout.split("subcommands (pipenv-sync COMMAND --help for each):")[1]
    for name in names:  # whatever the subcommands' parser has, with its one-line help
        assert f"\n  {name}  " in listed
    assert "130 interrupted" in proc.stdout
    assert run_cli("fetch", "--help", env=cli_env(tmp_path)).returncode == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--no-such-option"],
        ["no-such-command"],
        ["cache"],
        ["cache", "clean"],
        ["fetch", "-j", "0"],
        ["--lock-timeout", "soon"],
        ["--pypi-mirror", "not a url", "--dry-run"],
    ],
)
def test_usage_errors_exit_2_in_one_line(tmp_path: Path, argv: list[str]) -> None:
    project = write_project(tmp_path / "p", {"default": {}})
    proc = run_cli(*argv, env=cli_env(tmp_path), cwd=project)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("pipenv-sync"), proc.stderr
    assert len(errors[0]) <= 200
    assert "Traceback" not in proc.stderr


# -- Ctrl-C -----------------------------------------------------------------------------------------


class _Silent:
    """A loopback 'index' that accepts connections and never answers: a sync waits on it until interrupted."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/simple"
        self.connected = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.connected.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.server.close()


@pytest.fixture
def silent() -> Iterator[_Silent]:
    server = _Silent()
    yield server
    server.close()


def _interrupt(proc: subprocess.Popen[str], *, then: object = None) -> tuple[int, str]:
    """SIGINT ``proc``; read stderr until it says it was interrupted; ``then()``; its exit code and stderr."""
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    err = ""
    for line in proc.stderr:
        err += line
        if "interrupted" in line:
            break
    if callable(then):
        then()  # unblocks what the sync's worker threads wait on, so the process can exit
    err += proc.stderr.read()
    return proc.wait(timeout=120), err


def test_ctrl_c_before_any_change_says_nothing_changed(tmp_path: Path, silent: _Silent) -> None:
    env = cli_env(tmp_path)
    old, new = build_wheel(tmp_path / "w", "alpha", "1.0"), build_wheel(tmp_path / "w2", "alpha", "2.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([old], "1.0")}}, index_url=silent.url)
    venv = make_venv(tmp_path / "v")
    sync = ("--project", project, "--venv", venv)
    assert run_cli(*sync, "--offline", "--find-links", old.parent, env=env).returncode == 0
    write_project(tmp_path / "p", {"default": {"alpha": lock_entry([new], "2.0")}}, index_url=silent.url)
    before = snapshot(venv)

    proc = subprocess.Popen([*CLI, *map(str, sync)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert silent.connected.wait(120), "the sync never asked the index"
    code, err = _interrupt(proc, then=silent.close)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == f"pipenv-sync: interrupted; {venv} was not changed"
    assert "Traceback" not in err
    assert snapshot(venv) == before and installed(venv) == {"alpha": "1.0"}


def test_ctrl_c_during_a_pip_build_says_nothing_changed_and_the_next_run_finishes(tmp_path: Path) -> None:
    """pip builds direct entries before any removal or install of this tool (issue 18): cut there, the
    venv is as it was, and the line says so."""
    env = cli_env(tmp_path)
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    started, go = tmp_path / "build-started", tmp_path / "build-may-go"
    package = write_local_package(tmp_path / "p" / "slow", "slow", "1.0")
    with (package / "_backend.py").open("a") as backend:  # the build waits for the test: a known point
        backend.write(
            "\n_build_wheel = build_wheel\n"
            "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
            "    import time\n"
            f"    open({str(started)!r}, 'w').close()\n"
            "    deadline = time.time() + 120\n"
            f"    while not os.path.exists({str(go)!r}) and time.time() < deadline:\n"
            "        time.sleep(0.05)\n"
            "    return _build_wheel(wheel_directory, config_settings, metadata_directory)\n"
        )
    project = write_project(
        tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0"), "slow": {"path": "./slow"}}}
    )
    venv = make_venv(tmp_path / "v")
    sync: list[str | Path] = ["--project", project, "--venv", venv, "--offline", "--find-links", wheel.parent]

    proc = subprocess.Popen([*CLI, *map(str, sync)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(started, proc)
    code, err = _interrupt(proc, then=go.touch)
    assert code == 130, err
    last = err.strip().splitlines()[-1]
    assert last == f"pipenv-sync: interrupted; {venv} was not changed", err
    assert "alpha" not in installed(venv) and "slow" not in installed(venv)

    again = run_cli(*sync, env=env)
    assert again.returncode == 0, again.stderr
    assert installed(venv) == {"alpha": "1.0", "slow": "1.0"}


def test_ctrl_c_after_a_change_says_so_and_the_next_run_finishes(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    wheels = [build_wheel(tmp_path / "w", name, "1.0") for name in ("alpha", "beta", "gamma")]
    project = write_project(tmp_path / "p", {"default": {w.name.split("-")[0]: lock_entry([w], "1.0") for w in wheels}})
    venv = make_venv(tmp_path / "v")
    sync: list[str | Path] = ["--project", project, "--venv", venv, "--offline", "--find-links", wheels[0].parent]
    # SIGINT from inside, after the 4th file operation of the installs: a known point after a change
    cut = run_cli(
        *sync,
        "--link-mode",
        "installer",
        env={**env, "PIPENV_SYNC_TEST_CRASH_AFTER": "4", "PIPENV_SYNC_TEST_CRASH_SIGNAL": "INT"},
    )
    assert cut.returncode == 130, cut.stderr
    last = cut.stderr.strip().splitlines()[-1]
    assert last == (
        f"pipenv-sync: interrupted while changing {venv}; run the same command again: "
        "it repairs the venv and finishes the sync"
    )

    again = run_cli(*sync, env=env)
    assert again.returncode == 0, again.stderr
    assert installed(venv) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    import time

    deadline = time.monotonic() + 120
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.05)


# -- closed pipes -----------------------------------------------------------------------------------


def _closed_stdout(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose reader is already gone: every write to it fails (EPIPE)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [*CLI, *map(str, args)], stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=300
        )
    finally:
        os.close(write)


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, Path, dict[str, str], Path]:
    env = cli_env(tmp_path)
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    venv = tmp_path / "v"
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", wheel.parent, env=env)
    assert proc.returncode == 0, proc.stderr
    return project, venv, env, wheel


def test_a_closed_pipe_is_silent_and_keeps_the_exit_code(synced: tuple[Path, Path, dict[str, str], Path]) -> None:
    project, venv, env, _wheel = synced
    sync = ("--project", project, "--venv", venv)
    for args in [
        sync,  # the stamp's stdlib answer
        (*sync, "--verify"),  # the full CLI
        (*sync, "--json", "--dry-run"),
        ("--help",),
        ("cache", "info", "-v"),
    ]:
        proc = _closed_stdout(*args, env=env)
        assert (proc.returncode, proc.stderr) == (0, ""), args
    # the exit code is the command's own: out of sync is still 5
    shutil.rmtree(next(venv.glob("lib/python*/site-packages/alpha")))
    proc = _closed_stdout(*sync, "--verify", env=env)
    assert (proc.returncode, proc.stderr) == (5, "")


def test_piped_into_head(synced: tuple[Path, Path, dict[str, str], Path]) -> None:
    project, venv, env, _wheel = synced
    command = " ".join(f"'{a}'" for a in [*CLI, "--project", project, "--venv", venv, "--verify", "-v"])
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{command} | head -1"], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0 and proc.stderr == "" and len(proc.stdout.splitlines()) == 1, proc


# -- details ----------------------------------------------------------------------------------------


def test_rebuild_and_repair_say_why(synced: tuple[Path, Path, dict[str, str], Path]) -> None:
    project, venv, env, _wheel = synced
    proc = run_cli("--project", project, "--venv", venv, "--rebuild", "--offline", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"Rebuilt {venv}: --rebuild" in proc.stdout.splitlines()

    module = next(venv.glob("lib/python*/site-packages/alpha/__init__.py"))
    module.write_text("edited = True\n")
    proc = run_cli("--project", project, "--venv", venv, "--repair", "--offline", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "  ~ alpha 1.0 (reinstalled)" in proc.stdout.splitlines()
    assert "(was 1.0)" not in proc.stdout


def test_fetch_counts_the_downloaded_bytes_apart_from_the_total(tmp_path: Path, index: Index) -> None:
    env = cli_env(tmp_path)
    local = build_wheel(tmp_path / "local", "alpha", "1.0", files={"alpha/data.bin": os.urandom(30_000)})
    remote = build_wheel(tmp_path / "remote", "beta", "1.0", files={"beta/data.bin": os.urandom(70_000)})
    index.add(remote)
    project = write_project(
        tmp_path / "p",
        {"default": {"alpha": lock_entry([local], "1.0"), "beta": lock_entry([remote], "1.0")}},
        index_url=index.url,
    )
    target = ("--python-version", "3.12", "--platform", "manylinux_2_17_x86_64")
    proc = run_cli("fetch", "--project", project, "--find-links", local.parent, *target, env=env)
    assert proc.returncode == 0, proc.stderr
    total = human_size(local.stat().st_size + remote.stat().st_size)
    assert (
        f"1 from --find-links ({human_size(local.stat().st_size)}), "
        f"1 downloaded ({human_size(remote.stat().st_size)}); {total} in all"
    ) in proc.stdout


def test_creating_a_venv_names_the_interpreter_not_the_shim(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    real = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    shim = tmp_path / "shims" / "python3"  # as pyenv's shims do: a script that execs the interpreter
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    shim.chmod(0o755)
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    venv = tmp_path / "v"
    args = ("--project", project, "--venv", venv, "--python", shim, "--offline", "--find-links", wheel.parent)
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"Creating virtualenv {venv} with {real} (Python " in proc.stderr
    assert str(shim) not in proc.stderr


def _can_mount() -> bool:
    return shutil.which("unshare") is not None and (
        subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30).returncode == 0
    )


@pytest.mark.skipif(not _can_mount(), reason="needs `unshare -m` (root) for a read-only mount")
def test_a_read_only_venv_is_named_as_the_venv(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    old, new = build_wheel(tmp_path / "w", "alpha", "1.0"), build_wheel(tmp_path / "w", "alpha", "2.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([old], "1.0")}})
    venv = make_venv(tmp_path / "v")
    sync: list[str | Path] = ["--project", project, "--venv", venv, "--offline", "--find-links", old.parent]
    assert run_cli(*sync, env=env).returncode == 0
    write_project(tmp_path / "p", {"default": {"alpha": lock_entry([new], "2.0")}})
    command = " ".join(f"'{a}'" for a in [*CLI, *sync])
    script = f"mount --bind '{venv}' '{venv}' && mount -o remount,bind,ro '{venv}' && {command}"
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-2].startswith(f"pipenv-sync: error: {venv}: cannot be written (Read-only file system)"), lines
    assert lines[-1] == "hint: make it writable, or sync another venv (--venv DIR)", lines
    assert installed(venv) == {"alpha": "1.0"}


def test_ctrl_c_in_fetch_says_so_at_once_and_exits_130(tmp_path: Path, silent: _Silent) -> None:
    env = cli_env(tmp_path)
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=silent.url)
    target = ("--python-version", "3.12", "--platform", "manylinux_2_17_x86_64")
    command = [*CLI, "fetch", "--project", str(project), *target]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert silent.connected.wait(120), "fetch never asked the index"
    # the line comes at once, before the download threads give up; a second Ctrl-C does not wait for them
    code, err = _interrupt(proc, then=lambda: proc.send_signal(signal.SIGINT))
    assert code == 130, err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert lines == ["pipenv-sync: interrupted; no venv was changed (the store is safe to interrupt)"]
    assert "Traceback" not in err and "error:" not in err
