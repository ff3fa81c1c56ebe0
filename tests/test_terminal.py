"""What a person sees on a terminal: the live display, the phase summaries, colour; and a pipe, NO_COLOR
and friends that see none of it.

The real CLI runs in a pseudo-terminal (``pty.fork``: stdout and stderr are the terminal, as in a shell)
on syncs of real wheels from the loopback index; every byte it writes is read and inspected.
"""

from __future__ import annotations

import io
import os
import pty
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipenv_sync_ext import redact
from pipenv_sync_ext.cli import output

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, write_local_package, write_project

ESC = "\x1b"
NAMES = ("alpha", "beta", "gamma", "delta")
#: rich's SGR for green text around a whole "  + name version" line
GREEN_PLUS = re.compile(r"\x1b\[32m  \+ (\w+) 1\.0\x1b\[0m")


@dataclass
class Term:
    code: int
    out: str  # stdout and stderr as the terminal got them, "\r\n" line ends and all


def on_pty(*args: str | Path, env: Mapping[str, str]) -> Term:
    """Run the CLI with a pseudo-terminal as stdout and stderr; everything it wrote, and its exit code."""
    argv = [sys.executable, "-m", "pipenv_sync_ext", *map(str, args)]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.execve(sys.executable, argv, dict(env))
        finally:
            os._exit(127)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return Term(os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace"))


@dataclass
class World:
    tmp: Path
    project: Path
    env: dict[str, str]
    index: Index
    entries: dict[str, dict[str, object]]


@pytest.fixture
def world(tmp_path: Path, index: Index) -> World:
    entries: dict[str, dict[str, object]] = {}
    for name in NAMES:
        # 200 kB each: large enough that the download bar is drawn with a known total
        wheel = build_wheel(
            tmp_path / "wheels",
            name,
            "1.0",
            files={f"{name}/__init__.py": b"X = 1\n", f"{name}/blob.bin": os.urandom(200_000)},
        )
        index.add(wheel)
        entries[name] = lock_entry([wheel], "1.0")
    project = write_project(tmp_path / "project", {"default": entries}, index_url=index.url)
    return World(tmp_path, project, cli_env(tmp_path), index, entries)


def test_a_terminal_gets_the_live_display_summaries_and_colour(world: World) -> None:
    venv = world.tmp / "venv"
    term = on_pty("--project", world.project, "--venv", venv, env=world.env)
    assert term.code == 0, term.out
    assert installed(venv) == dict.fromkeys(NAMES, "1.0")
    assert any(r.startswith("/files/") for r in world.index.requests)  # it did download
    # the live display: redrawn in place (carriage return, erase line), cursor hidden while drawing
    assert "\r\x1b[2K" in term.out and "\x1b[?25l" in term.out and "\x1b[?25h" in term.out
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", term.out)  # the display's words, without its codes
    total = re.search(r"Downloading 4/4 files\W+([\d.]+ kB)/([\d.]+ kB)", plain)  # files, and bytes of total
    assert total is not None and total[1] == total[2] and float(total[1].split()[0]) > 800, plain
    assert re.search(r"Unpacking\W+4/4", plain) and re.search(r"Installing\W+4/4", plain)  # packages of total
    assert re.search(r"Prepared 4 packages in \d+(ms|\.\d\ds)", term.out)
    assert re.search(r"Installed 4 packages in \d+(ms|\.\d\ds)", term.out)
    assert "Downloaded alpha" not in term.out  # no line per file on a terminal
    # colour: each "+" line green, the report's words unchanged inside the codes
    assert sorted(GREEN_PLUS.findall(term.out)) == sorted(NAMES)
    assert "Synced " in term.out and "4 installed, 0 replaced, 0 removed" in term.out


def test_a_sync_from_the_store_and_a_prune_say_what_they_did(world: World) -> None:
    first = world.tmp / "first"
    assert run_cli("--project", world.project, "--venv", first, env=world.env).returncode == 0
    world.index.requests.clear()
    venv = world.tmp / "venv"
    term = on_pty("--project", world.project, "--venv", venv, "--offline", env=world.env)
    assert term.code == 0, term.out
    assert world.index.requests == [] and "Downloading" not in term.out  # nothing to download: no bar for it
    assert "Prepared 4 packages in" in term.out and "Installed 4 packages in" in term.out
    # fewer packages in the lock, --prune: the removals are counted and the "-" lines red
    write_project(world.project, {"default": {"alpha": world.entries["alpha"]}}, index_url=world.index.url)
    term = on_pty("--project", world.project, "--venv", venv, "--offline", "--prune", env=world.env)
    assert term.code == 0, term.out
    assert installed(venv) == {"alpha": "1.0"}
    assert "Removed 3 packages in" in term.out and "Installed" not in term.out
    assert "Prepared" not in term.out  # nothing was to be prepared
    assert sorted(re.findall(r"\x1b\[31m  - (\w+) 1\.0 \([^)]+\)\x1b\[0m", term.out)) == [
        "beta",
        "delta",
        "gamma",
    ], term.out
    # the next run is the stamp's: not a byte of rich is imported for it
    noop = on_pty("--project", world.project, "--venv", venv, "--offline", "--prune",
                  env={**world.env, "PYTHONPROFILEIMPORTTIME": "1"})  # fmt: skip
    assert noop.code == 0 and "Already in sync" in noop.out
    assert "import time:" in noop.out and not re.search(r"\| +rich\b", noop.out)


def _plain_lines(text: str, venv: Path) -> list[str]:
    """Lines without the run's own figures (its timing), in the order they came."""
    lines = text.replace("\r\n", "\n").splitlines()
    return [re.sub(r"\(\d+\.\d\ds\)$", "(T)", line.replace(str(venv), "VENV")) for line in lines]


def test_a_pipe_gets_no_escape_code_and_today_s_lines(world: World) -> None:
    venv = world.tmp / "venv"
    proc = run_cli("--project", world.project, "--venv", venv, env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert ESC not in proc.stdout and ESC not in proc.stderr and "\r" not in proc.stderr
    assert sorted(line for line in proc.stdout.splitlines() if line.startswith("  + ")) == [
        f"  + {name} 1.0" for name in sorted(NAMES)
    ]
    downloaded = [line for line in proc.stderr.splitlines() if line.startswith("Downloaded ")]
    assert len(downloaded) == 4  # the plain display: one line per file, as before
    assert "Prepared" not in proc.stderr and "Installed 4 packages" not in proc.stderr


@pytest.mark.parametrize(
    "plain", [{"NO_COLOR": "1"}, {"PIPENV_NOSPIN": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "PIPENV_NOSPIN", "dumb"]
)
def test_plain_on_a_terminal_is_exactly_what_a_pipe_gets(world: World, plain: dict[str, str]) -> None:
    # each run downloads into its own store, so that both say the same
    piped_env = {**world.env, **plain, "PIPENV_SYNC_CACHE_DIR": str(world.tmp / "piped-cache")}
    piped = run_cli("--project", world.project, "--venv", world.tmp / "piped", env=piped_env)
    assert piped.returncode == 0, piped.stderr
    venv = world.tmp / "venv"
    term = on_pty("--project", world.project, "--venv", venv, env={**world.env, **plain})
    assert term.code == 0, term.out
    assert ESC not in term.out
    assert installed(venv) == dict.fromkeys(NAMES, "1.0")
    # the same lines (downloads are concurrent, so their order may differ; the report's may not)
    got = _plain_lines(term.out, venv)
    want = _plain_lines(piped.stderr + piped.stdout, world.tmp / "piped")
    assert sorted(got) == sorted(want)
    assert [line for line in got if not line.startswith("Download")] == [
        line for line in want if not line.startswith("Download")
    ]


def test_json_on_a_terminal_has_no_escape_code(world: World) -> None:
    term = on_pty("--project", world.project, "--venv", world.tmp / "venv", "--json", env=world.env)
    assert term.code == 0, term.out
    assert ESC not in term.out and '"changed": true' in term.out


def test_errors_are_red_on_a_terminal_and_plain_in_a_pipe(world: World) -> None:
    args = ("--project", world.project, "--venv", world.tmp / "venv", "--offline")  # an empty store
    term = on_pty(*args, env=world.env)
    assert term.code == 4, term.out
    assert "\x1b[1;31mpipenv-sync: error:\x1b[0m /" in term.out
    assert not (world.tmp / "venv").exists()
    piped = run_cli(*args, env=world.env)
    assert piped.returncode == 4 and ESC not in piped.stderr
    assert piped.stderr.splitlines()[0].startswith("pipenv-sync: error: ")
    assert piped.stderr.splitlines()[-1].startswith("hint: ")


def test_force_color_colours_a_pipe_without_redrawing(world: World) -> None:
    venv = world.tmp / "venv"
    proc = run_cli("--project", world.project, "--venv", venv, env={**world.env, "FORCE_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert sorted(GREEN_PLUS.findall(proc.stdout)) == sorted(NAMES)
    assert "\r" not in proc.stderr and "\x1b[2K" not in proc.stderr  # a log file gets no redrawn lines


def test_what_pip_builds_gets_a_spinner_and_its_own_summary(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_local_package(project / "mine", "mine", "1.0")
    wheel = build_wheel(tmp_path / "wheels", "alpha", "1.0")
    lock = {"mine": {"editable": True, "path": "./mine"}, "alpha": lock_entry([wheel], "1.0")}
    write_project(project, {"default": lock})
    venv = tmp_path / "venv"
    args = ("--project", project, "--venv", venv, "--offline", "--find-links", wheel.parent)
    term = on_pty(*args, env=cli_env(tmp_path))
    assert term.code == 0, term.out
    assert {"mine": "1.0", "alpha": "1.0"}.items() <= installed(venv).items()
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", term.out)
    assert "Building mine with pip" in plain  # the spinner's line, with what pip is building
    assert "Installed 1 package in" in plain and "Installed 1 package with pip in" in plain
    assert re.search(r"\x1b\[32m  \+ mine \(through pip: editable [^)]*\)\x1b\[0m", term.out), term.out


def test_an_error_naming_a_credentialed_source_is_red_and_redacted(tmp_path: Path, index: Index) -> None:
    """An error naming a source whose URL holds a credential: red on the terminal, the credential not."""
    token = "t0kenOnTheTerminal"
    wheel = build_wheel(tmp_path / "wheels", "alpha", "1.0")
    index.add(wheel)
    missing = lock_entry([wheel], "1.0") | {"hashes": ["sha256:" + "0" * 64]}  # no file the index lists
    url = index.url.replace("/simple", "/${TOKEN}/simple")  # a token in the path: registered, then redacted
    project = write_project(tmp_path / "p", {"default": {"alpha": missing}}, index_url=url)
    term = on_pty("--project", project, "--venv", tmp_path / "venv", "-v", env=cli_env(tmp_path, TOKEN=token))
    assert term.code == 4, term.out
    assert "\x1b[1;31mpipenv-sync: error:\x1b[0m" in term.out and "alpha==1.0" in term.out
    assert token not in term.out and "/***/simple" in term.out
    assert not (tmp_path / "venv").exists()


def test_everything_the_console_writes_is_redacted_and_hints_are_cyan() -> None:
    """The display's own writer (live frames, summaries, coloured lines) redacts, whatever it is given."""
    token = "c0nsoleS3cret"
    redact.register(token)
    buf = io.StringIO()
    output.console(buf).print(f"Downloading https://host/{token}/simple/x.whl")
    assert token not in buf.getvalue() and "https://host/***/simple/x.whl" in buf.getvalue()
    err = io.StringIO()
    output.emit_styled("pipenv-sync: error: broken; hint: run `pipenv-sync --rebuild`", output.line_style, stream=err)
    assert ESC not in err.getvalue()  # a StringIO is no terminal
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORCE_COLOR", "1")
        mp.delenv("NO_COLOR", raising=False)
        mp.delenv("PIPENV_NOSPIN", raising=False)
        mp.setenv("TERM", "xterm")
        output.emit_styled(f"pipenv-sync: error: {token}; hint: run it again", output.line_style, stream=err)
    assert err.getvalue() == ("\x1b[1;31mpipenv-sync: error:\x1b[0m ***; \x1b[36mhint: run it again\x1b[0m\n"), repr(
        err.getvalue()
    )


def test_a_ctrl_c_mid_install_gives_the_terminal_back(world: World) -> None:
    """Interrupted while the bars are drawn: the display is stopped (cursor shown again) before the last words."""
    venv = world.tmp / "venv"
    args = ("--project", world.project, "--venv", venv)
    cut = on_pty(*args, env={**world.env, "PIPENV_SYNC_TEST_CRASH_AFTER": "3", "PIPENV_SYNC_TEST_CRASH_SIGNAL": "INT"})
    assert cut.code == 130, cut.out
    assert "\x1b[?25l" in cut.out and cut.out.rindex("\x1b[?25h") > cut.out.rindex("\x1b[?25l")
    # the bars are erased, and the message is the whole last line
    last = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", cut.out.split("\r\n")[-2])
    assert last.startswith("pipenv-sync: interrupted; ") and "was not changed" in last, repr(cut.out[-400:])
    assert not venv.exists()  # a new venv is built beside and swapped in whole: nothing half-made
    again = on_pty(*args, env=world.env)
    assert again.code == 0 and installed(venv) == dict.fromkeys(NAMES, "1.0")
