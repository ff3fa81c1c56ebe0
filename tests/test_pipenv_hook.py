"""The hook in the real ``pipenv`` command.

This project's wheel and pipenv are installed into one fresh venv per test
session (a regular install, not editable: the ``.pth`` must come from the
wheel), and that venv's own ``pipenv`` console script runs as a subprocess
against test projects whose lock points at the loopback index.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipenv_sync_ext.cli.arguments import add_sync_arguments

from .realtools import PIPENV_ABBREVIATIONS, PREFIX_SCRIPT
from .support import Index, build_wheel, cli_env, installed, lock_entry, make_venv, write_project

ROOT = Path(__file__).resolve().parent.parent
PTH = "pipenv_sync_ext_hook.pth"


@dataclass(frozen=True)
class Hooked:
    """A venv holding this project's wheel and pipenv."""

    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def site_packages(self) -> Path:
        return next((self.venv / "lib").glob("python*/site-packages"))


def _run(cmd: list[str | Path]) -> None:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="session")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Hooked:
    """Build the wheel (``pip wheel --no-deps``), install it with pipenv from the index into a new venv."""
    tmp = tmp_path_factory.mktemp("hooked")
    pip_cache = tmp / "pip-cache"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", ROOT, "-w", tmp / "dist", "--cache-dir", pip_cache])
    (wheel,) = (tmp / "dist").glob("pipenv_sync_ext-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", venv])
    _run([venv / "bin" / "python", "-m", "pip", "install", "--no-compile", "--cache-dir", pip_cache, wheel])
    return Hooked(venv)


@dataclass
class World:
    wheels: dict[str, Path]
    project: Path
    env: dict[str, str]
    index: Index
    tmp: Path

    @property
    def venv(self) -> Path:
        return self.project / ".venv"


@pytest.fixture
def world(tmp_path: Path, index: Index) -> World:
    wh = tmp_path / "wheels"
    w = {
        "alpha2": build_wheel(wh, "alpha", "2.0"),
        "alpha1": build_wheel(wh, "alpha", "1.0"),
        "beta": build_wheel(wh, "beta", "1.5", requires=["alpha>=2"]),
        "devtool": build_wheel(wh, "devtool", "0.3"),
        "extra": build_wheel(wh, "extra-pkg", "9.0"),
    }
    for path in w.values():
        index.add(path)
    project = write_project(
        tmp_path / "proj",
        {
            "default": {"alpha": lock_entry([w["alpha2"]], "2.0"), "beta": lock_entry([w["beta"]], "1.5")},
            "develop": {"devtool": lock_entry([w["devtool"]], "0.3")},
        },
        index_url=index.url,
    )
    env = cli_env(
        tmp_path,
        PIPENV_VENV_IN_PROJECT="1",
        PIPENV_YES="1",
        PIPENV_NOSPIN="1",
        PIPENV_DONT_LOAD_ENV="1",
        PIPENV_CACHE_DIR=str(tmp_path / "pipenv-cache"),
        PIP_CONFIG_FILE=os.devnull,  # pipenv's pip sees the lock's index only, not this machine's pip.conf
        NO_COLOR="1",
        COLUMNS="200",
    )
    return World(w, project, env, index, tmp_path)


def pipenv(hooked: Hooked, world: World, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(hooked.bin / "pipenv"), *map(str, args)],
        capture_output=True,
        text=True,
        env=world.env,
        cwd=world.project,
        timeout=600,
    )


def seeded(dists: dict[str, str]) -> dict[str, str]:
    """What a venv created through pipenv has besides the seed (pip; setuptools too before Python 3.12)."""
    assert "pip" in dists, dists
    return {name: version for name, version in dists.items() if name not in ("pip", "setuptools")}


def installer_of(venv: Path, dist: str) -> str:
    (info,) = next((venv / "lib").glob("python*/site-packages")).glob(f"{dist}-*.dist-info")
    return (info / "INSTALLER").read_text().strip()


def extension_flags() -> list[str]:
    """The long flags ``add_sync_arguments`` defines today (it is the only list there is)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_sync_arguments(parser, pipenv_owns_selection=True)
    return [f for action in parser._actions for f in action.option_strings if f.startswith("--")]


def test_the_wheel_puts_the_pth_at_the_root_of_site_packages(hooked: Hooked) -> None:
    pth = hooked.site_packages / PTH
    assert pth.read_text() == (ROOT / PTH).read_text()
    assert pth.read_text().startswith("import ") and len(pth.read_text().splitlines()) == 1


def test_help_lists_every_extension_option(hooked: Hooked, world: World) -> None:
    proc = pipenv(hooked, world, "sync", "--help")
    assert proc.returncode == 0, proc.stderr
    for flag in extension_flags():
        assert flag in proc.stdout, flag
    assert "--clean" in proc.stdout and "--dev" in proc.stdout  # pipenv's own are all still there
    assert "pipenv-sync-ext options" in proc.stdout
    # only `sync` is extended
    other = pipenv(hooked, world, "install", "--help")
    assert other.returncode == 0 and "--prune" not in other.stdout and "--offline" not in other.stdout


def _seed(hooked: Hooked, world: World, *names: str) -> None:
    """Put packages in the project's venv behind pipenv's back (with the extension's own CLI)."""
    wheels = [world.wheels[n] for n in names]
    seed = write_project(
        world.tmp / "seed", {"default": {w.name.split("-")[0]: lock_entry([w], w.name.split("-")[1]) for w in wheels}}
    )
    args = ["--project", seed, "--venv", world.venv, "--offline", "--find-links", wheels[0].parent]
    args += ["--cache-dir", world.tmp / "seed-cache"]
    proc = subprocess.run(
        [str(hooked.bin / "pipenv-sync"), *map(str, args)], capture_output=True, text=True, env=world.env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr


def test_sync_prune_offline_makes_the_venv_match_the_lock(hooked: Hooked, world: World) -> None:
    _seed(hooked, world, "alpha1", "extra", "devtool")
    assert installed(world.venv) == {"alpha": "1.0", "extra-pkg": "9.0", "devtool": "0.3"}

    proc = pipenv(hooked, world, "sync", "--prune", "--offline", "--find-links", world.wheels["alpha2"].parent)
    assert proc.returncode == 0, proc.stderr
    # the unlocked package and the unselected dev package are gone, alpha is the locked one
    assert installed(world.venv) == {"alpha": "2.0", "beta": "1.5"}
    assert installer_of(world.venv, "alpha") == "pipenv-sync"
    assert world.index.requests == []

    # pipenv's own --dev is honoured
    proc = pipenv(
        hooked, world, "sync", "--prune", "--offline", "--dev", "--find-links", world.wheels["devtool"].parent
    )
    assert proc.returncode == 0, proc.stderr
    assert installed(world.venv) == {"alpha": "2.0", "beta": "1.5", "devtool": "0.3"}


def test_sync_offline_makes_no_request(hooked: Hooked, world: World) -> None:
    proc = pipenv(hooked, world, "sync", "--offline", "--find-links", world.wheels["alpha2"].parent)
    assert proc.returncode == 0, proc.stderr
    # a venv the engine creates through pipenv has pip, as pipenv's own venvs do (issue 12 part 7)
    assert "pip" in installed(world.venv) and (world.venv / "bin" / "pip").exists()
    assert seeded(installed(world.venv)) == {"alpha": "2.0", "beta": "1.5"}
    assert world.index.requests == []
    # the store is pipenv-sync's, not pipenv's: PIPENV_CACHE_DIR is never taken for --cache-dir
    assert (world.tmp / "cache" / "v1").is_dir() and not (world.tmp / "pipenv-cache" / "v1").exists()

    # --json and --dry-run come from the same list; a synced venv is a no-op, still without a request
    proc = pipenv(hooked, world, "sync", "--dry-run", "--json", "--categories", "default develop")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [p["name"] for p in plan["install"]] == ["devtool"] and plan["categories"] == ["default", "develop"]
    proc = pipenv(hooked, world, "sync", "--dry-run", "--json", "--all")
    assert proc.returncode == 0, proc.stderr
    assert [p["name"] for p in json.loads(proc.stdout)["install"]] == ["devtool"]
    assert world.index.requests == []


def test_no_seed_through_pipenv_and_standalone_keep_a_venv_without_pip(hooked: Hooked, world: World) -> None:
    wheels = world.wheels["alpha2"].parent
    proc = pipenv(hooked, world, "sync", "--offline", "--no-seed", "--find-links", wheels)
    assert proc.returncode == 0, proc.stderr
    assert installed(world.venv) == {"alpha": "2.0", "beta": "1.5"} and not (world.venv / "bin" / "pip").exists()
    # standalone keeps its default: no pip
    venv = world.tmp / "standalone"
    args = ["--project", world.project, "--venv", venv, "--offline", "--find-links", wheels]
    proc = subprocess.run(
        [str(hooked.bin / "pipenv-sync"), *map(str, args)], capture_output=True, text=True, env=world.env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha": "2.0", "beta": "1.5"}


def test_system_targets_the_interpreter_on_path(hooked: Hooked, world: World) -> None:
    """``--system``: like pipenv, the python3 found on PATH (here: a venv's, as when one is active)."""
    active = make_venv(world.tmp / "active")
    env = {**world.env, "PATH": f"{active / 'bin'}{os.pathsep}{world.env['PATH']}"}
    args = ["sync", "--system", "--prune", "--offline", "--find-links", str(world.wheels["alpha2"].parent)]
    proc = subprocess.run(
        [str(hooked.bin / "pipenv"), *args], capture_output=True, text=True, env=env, cwd=world.project
    )
    assert proc.returncode == 0, proc.stderr
    assert installed(active) == {"alpha": "2.0", "beta": "1.5"}
    assert not world.venv.exists()  # not the project's venv


def test_plain_sync_is_pipenv_s_own(hooked: Hooked, world: World) -> None:
    proc = pipenv(hooked, world, "sync")
    assert proc.returncode == 0, proc.stderr
    found = installed(world.venv)
    assert found["alpha"] == "2.0" and found["beta"] == "1.5" and "pip" in found  # pipenv's venv has pip
    assert installer_of(world.venv, "alpha") == "pip"  # installed by pipenv through pip, not by the engine
    assert any(r.startswith("/simple/alpha") for r in world.index.requests)  # pip asked the index


def test_pipenv_options_reach_the_engine_or_are_refused(hooked: Hooked, world: World) -> None:
    proc = pipenv(hooked, world, "sync", "--prune", "--clean")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("pipenv-sync: error: --clean is pipenv's own removal")
    # pipenv's --python reaches the engine (which creates the venv with it)
    proc = pipenv(hooked, world, "sync", "--offline", "--python", "9.9")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    error = next(line for line in lines if line.startswith("pipenv-sync: error:"))
    assert error.startswith("pipenv-sync: error: --python 9.9: no runnable Python 9.9 found in pyenv's or asdf's")
    assert lines[-1].startswith("hint: "), lines
    assert not world.venv.exists()


def test_every_abbreviation_of_pipenv_s_options_means_what_it_means_without_the_extension(hooked: Hooked) -> None:
    """``sync --de`` is ``--dev``, ``--pr`` is ``--pre``...: parsed by pipenv's own parser and by the hooked one."""
    code = subprocess.run(
        [str(hooked.bin / "python"), "-c", PREFIX_SCRIPT, *PIPENV_ABBREVIATIONS, "--pru", "--off"],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 0, code.stderr
    parsed = json.loads(code.stdout)
    differ = {prefix: both for prefix, both in parsed.items() if both[0] != both[1] and prefix.startswith("--")}
    assert set(differ) == {"--pru", "--off"}  # only prefixes no pipenv option has reach the extension's
    for prefix in ("--pru", "--off"):
        assert parsed[prefix][0]["rest"] == [prefix, "x"]  # plain pipenv: not an option of its own
        assert any(k.startswith("pipenv_sync_ext:") for k, _v in parsed[prefix][1]["namespace"])
    for prefix, dest in PIPENV_ABBREVIATIONS.items():
        plain, hooked_ns = parsed[prefix]
        assert "error" not in plain, (prefix, plain)
        assert dest in dict(plain["namespace"]) and plain == hooked_ns


def test_extra_pip_args_are_refused_whatever_their_value(hooked: Hooked, world: World) -> None:
    for args, env in (
        (["--extra-pip-args=--no-cache-dir"], {}),
        (["--extra-pip-args", "1"], {}),
        ([], {"PIPENV_EXTRA_PIP_ARGS": "--no-binary :all:"}),
    ):
        proc = subprocess.run(
            [str(hooked.bin / "pipenv"), "sync", "--prune", "--offline", *args],
            capture_output=True,
            text=True,
            env={**world.env, **env},
            cwd=world.project,
        )
        assert proc.returncode == 2, (args, env, proc.stderr)
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("pipenv-sync: error: --extra-pip-args (PIPENV_EXTRA_PIP_ARGS): pipenv-sync-ext")
        assert not world.venv.exists()


def test_pipenv_verbosity_is_honoured(hooked: Hooked, world: World) -> None:
    _seed(hooked, world, "extra")
    wheels = world.wheels["alpha2"].parent

    def sync(*args: str, **env: str) -> str:
        proc = subprocess.run(
            [str(hooked.bin / "pipenv"), "sync", "--offline", "--find-links", str(wheels), *args],
            capture_output=True,
            text=True,
            env={**world.env, **env},
            cwd=world.project,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    verbose = sync(PIPENV_VERBOSITY="1")
    assert "kept, not in the lock: extra-pkg 9.0" in verbose  # what only --verbose shows
    assert installed(world.venv) == {"alpha": "2.0", "beta": "1.5", "extra-pkg": "9.0"}
    assert sync("--dev", PIPENV_VERBOSITY="-1") == ""
    assert installed(world.venv)["devtool"] == "0.3"
    assert "  = alpha 2.0" in sync("--verbose", "--verify", PIPENV_VERBOSITY="-1")  # the option wins, as in pipenv
    assert "  = alpha 2.0" not in sync("--verify", PIPENV_VERBOSITY="0")


def test_pypi_mirror_replaces_pypi_org_through_pipenv(hooked: Hooked, world: World) -> None:
    """A lock made against pypi.org, synced from a mirror (``PIPENV_PYPI_MIRROR`` or ``--pypi-mirror``)."""
    entries = {"alpha": lock_entry([world.wheels["alpha2"]], "2.0"), "beta": lock_entry([world.wheels["beta"]], "1.5")}
    project = write_project(world.tmp / "mirrored", {"default": entries}, index_url="https://pypi.org/simple")
    dead = "http://127.0.0.1:9"  # pypi.org itself is never reached: the proxy to it is a closed port
    env = {**world.env, "https_proxy": dead, "http_proxy": dead, "no_proxy": "127.0.0.1,localhost"}
    for extra, venv in (({"PIPENV_PYPI_MIRROR": world.index.url}, []), ({}, ["--pypi-mirror", world.index.url])):
        target = world.tmp / ("venv-env" if extra else "venv-option")
        proc = subprocess.run(
            [str(hooked.bin / "pipenv"), "sync", "--prune", "--venv", str(target), *venv],
            capture_output=True,
            text=True,
            env={**env, **extra, "PIPENV_SYNC_CACHE_DIR": str(target) + "-store"},  # each fetches for itself
            cwd=project,
        )
        assert proc.returncode == 0, proc.stderr
        assert seeded(installed(target)) == {"alpha": "2.0", "beta": "1.5"}
    # each sync asks the mirror once: the download's listing and the index status (issue 17) share the page
    assert world.index.requests.count("/simple/alpha/") == 2


def test_the_pth_costs_other_programs_nothing(hooked: Hooked) -> None:
    code = "import sys; print(sorted(m for m in sys.modules if 'pipenv' in m or m.startswith('typing')))"
    proc = subprocess.run([str(hooked.bin / "python"), "-c", code], capture_output=True, text=True, check=True)
    # the finder is there, and that is all: no pipenv, no argparse-level code, not even typing
    assert proc.stdout.strip() == "['pipenv_sync_ext', 'pipenv_sync_ext.pipenv', 'pipenv_sync_ext.pipenv.hook']"
    proc = subprocess.run(
        [str(hooked.bin / "python"), "-X", "importtime", "-c", "pass"], capture_output=True, text=True, check=True
    )
    ours = [line for line in proc.stderr.splitlines() if "pipenv" in line]
    assert [line.split("|")[-1].strip() for line in ours] == [
        "pipenv_sync_ext",
        "pipenv_sync_ext.pipenv",
        "pipenv_sync_ext.pipenv.hook",
    ]


FAKE_CLI = """
import argparse

def build_parser():
    parser = argparse.ArgumentParser(prog="pipenv")
    subs = parser.add_subparsers(dest="command")
    subs.add_parser({subcommand!r}).add_argument("--verbose", action="store_true")
    return parser

def cmd_sync(args):
    print("fake pipenv sync ran")

{table} = {{"sync": cmd_sync}}

def cli():
    args, rest = build_parser().parse_known_args()
    print("unknown:", rest)
    {table}["sync"](args)
"""


@pytest.mark.parametrize("moved", ["dispatch-renamed", "sync-subcommand-renamed"])
def test_moved_pipenv_internals_only_print_one_line_under_verbose(hooked: Hooked, tmp_path: Path, moved: str) -> None:
    """A pipenv whose CLI is shaped differently runs as if the extension were absent."""
    cli_dir = tmp_path / "fake" / "pipenv" / "cli"
    cli_dir.mkdir(parents=True)
    (cli_dir.parent / "__init__.py").write_text("")
    (cli_dir / "__init__.py").write_text("")
    subcommand = "sync" if moved == "dispatch-renamed" else "synchronise"
    table = "_COMMANDS" if moved == "dispatch-renamed" else "_DISPATCH"
    (cli_dir / "command.py").write_text(FAKE_CLI.format(subcommand=subcommand, table=table))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPENV")}
    env["PYTHONPATH"] = str(tmp_path / "fake")  # this "pipenv" comes before the real one
    python = str(hooked.bin / "python")
    script = "from pipenv.cli.command import cli; cli()"
    expected_stdout = "unknown: ['--prune']\nfake pipenv sync ran\n"

    quiet = subprocess.run([python, "-c", script, subcommand, "--prune"], capture_output=True, text=True, env=env)
    assert (quiet.stdout, quiet.stderr) == (expected_stdout, "")

    for argv, extra in (([subcommand, "--verbose", "--prune"], {}), ([subcommand, "--prune"], {"PIPENV_VERBOSE": "1"})):
        loud = subprocess.run([python, "-c", script, *argv], capture_output=True, text=True, env={**env, **extra})
        assert loud.stdout == expected_stdout
        (line,) = loud.stderr.splitlines()
        assert line.startswith("pipenv-sync-ext: not hooked into pipenv ")
        assert (
            ("_DISPATCH['sync'] is missing" in line) if moved == "dispatch-renamed" else ("no `sync` subparser" in line)
        )

    # the extension's own command does not care
    proc = subprocess.run([str(hooked.bin / "pipenv-sync"), "--help"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "--prune" in proc.stdout
