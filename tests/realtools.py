"""The real tools users make venvs with, run as they run them: pipenv, virtualenv, uv, ``python -m venv``.

``pipenv`` here is the console script of the environment running the tests
(``pip install -e '.[test]'``), so the extension's ``.pth`` hook is in it, as
in a user's pipenv after ``pip install pipenv-sync-ext``. Everything points at
the loopback index and at the test's own caches: no creator downloads
anything (virtualenv seeds from its bundled wheels, uv creates without seeding).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from .support import cli_env

BIN = Path(sys.executable).parent
PIPENV = BIN / "pipenv"
PIPENV_SYNC = BIN / "pipenv-sync"

#: The creators the tests cover, by the name tests are parametrized with.
CREATORS = (
    "venv",
    "venv-without-pip",
    "venv-copies",
    "venv-system-site-packages",
    "virtualenv",
    "virtualenv-no-pip",
    "uv",
    "uv-relocatable",
)


def uv_bin() -> str:
    from uv import find_uv_bin  # the test extra's uv; imported lazily so a missing one fails only here

    return str(find_uv_bin())


def tool_env(tmp: Path, **extra: str) -> dict[str, str]:
    """:func:`cli_env` plus what keeps pipenv, virtualenv and uv quiet, local and non-interactive."""
    return cli_env(
        tmp,
        PIPENV_YES="1",
        PIPENV_NOSPIN="1",
        PIPENV_DONT_LOAD_ENV="1",
        NO_COLOR="1",
        COLUMNS="200",
        PIP_NO_INPUT="1",
        VIRTUALENV_OVERRIDE_APP_DATA=str(tmp / "virtualenv-app-data"),
        UV_CACHE_DIR=str(tmp / "uv-cache"),
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        UV_OFFLINE="1",
        **extra,
    )


def run(cmd: list[str | Path], env: Mapping[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=dict(env), cwd=cwd, timeout=600, check=False
    )


def must(cmd: list[str | Path], env: Mapping[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = run(cmd, env, cwd)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def pipenv(
    *args: str | Path, env: Mapping[str, str], cwd: Path, no_network: bool = False
) -> subprocess.CompletedProcess[str]:
    """The real ``pipenv`` command; ``no_network``: in a network namespace of its own (``unshare -n``)."""
    prefix: list[str | Path] = ["unshare", "-n"] if no_network else []
    return run([*prefix, PIPENV, *args], env, cwd)


def create(creator: str, venv: Path, env: Mapping[str, str]) -> Path:
    """A venv made by ``creator`` (one of :data:`CREATORS`) from the running Python, as a user would."""
    python = sys.executable
    commands: dict[str, list[str | Path]] = {
        "venv": [python, "-m", "venv", venv],
        "venv-without-pip": [python, "-m", "venv", "--without-pip", venv],
        "venv-copies": [python, "-m", "venv", "--without-pip", "--copies", venv],
        "venv-system-site-packages": [python, "-m", "venv", "--without-pip", "--system-site-packages", venv],
        "virtualenv": [python, "-m", "virtualenv", "--quiet", "--no-periodic-update", venv],
        "virtualenv-no-pip": [python, "-m", "virtualenv", "--quiet", "--no-seed", venv],
        "uv": [uv_bin(), "venv", "--quiet", "--python", python, venv],
        "uv-relocatable": [uv_bin(), "venv", "--quiet", "--relocatable", "--python", python, venv],
    }
    must(commands[creator], env)
    return venv


def uv_pip(venv: Path, *args: str | Path, env: Mapping[str, str]) -> None:
    """``uv pip ARGS`` into ``venv`` (fast, and works whether or not the venv has pip)."""
    must([uv_bin(), "pip", *args[:1], "--python", venv / "bin" / "python", *args[1:]], env)


def copy_tree(src: Path, dest: Path) -> Path:
    """``cp -a``: symlinks, modes and times kept, as users copy venvs."""
    must(["cp", "-a", src, dest], os.environ)
    return dest


def move_tree(src: Path, dest: Path) -> Path:
    shutil.move(str(src), str(dest))
    return dest


#: Run inside an environment with pipenv and this extension: every prefix of every long option of
#: pipenv's `sync` (and the prefixes given as arguments), parsed by pipenv's own `build_parser`
#: (pipenv.cli.options, never wrapped) and by the hooked one (pipenv.cli.command), as JSON.
PREFIX_SCRIPT = """
import argparse, contextlib, importlib, io, json, sys

command = importlib.import_module("pipenv.cli.command")
options = importlib.import_module("pipenv.cli.options")
assert command.build_parser.__name__ == "build_parser_with_sync_ext", "the hook is not active"


def parse(parser, argv):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns, rest = parser.parse_known_args(argv)
    except SystemExit:
        return {"error": err.getvalue().strip().splitlines()[-1]}
    return {"namespace": sorted([k, repr(v)] for k, v in vars(ns).items()), "rest": rest}


plain, hooked = options.build_parser(), command.build_parser()  # argparse parsers can be reused
sync = next(a for a in plain._actions if isinstance(a, argparse._SubParsersAction)).choices["sync"]
flags = {f for f in sync._option_string_actions if f.startswith("--")}
prefixes = sorted({f[:i] for f in flags for i in range(3, len(f) + 1)} | set(sys.argv[1:]))
print(json.dumps({p: [parse(plain, ["sync", p, "x"]), parse(hooked, ["sync", p, "x"])] for p in prefixes}))
"""

#: The abbreviations plain pipenv accepts for `sync` that the extension's options once made ambiguous.
PIPENV_ABBREVIATIONS = {
    "--a": "all_categories",
    "--al": "all_categories",
    "--ca": "categories",
    "--d": "dev",
    "--de": "dev",
    "--n": "site_packages",
    "--no": "site_packages",
    "--no-": "site_packages",
    "--pr": "pre",
    "--r": "resolver",
    "--re": "resolver",
}
