"""Write a new venv the way the target's own ``python -m venv`` would, without running it.

Why
    ``python -m venv`` is a subprocess that imports half the stdlib to write a
    config file, three symlinks, four directories and four scripts (~100 ms of
    a ~330 ms fresh sync of a small lock). Writing them from here costs ~1 ms.

Exactness, not imitation
    What ``venv`` writes depends on the *target* interpreter's ``EnvBuilder``
    (which changes between releases and distributions: Debian backported the
    quoting of paths in activate scripts, gh-124651, to its 3.11.2) and its
    templates. So the writer does only what a builder it has been checked
    against does: the source of the target's ``venv`` module
    (``<base_prefix>/lib/pythonX.Y/venv/__init__.py`` from ``class EnvBuilder``
    to the end: the builder, ``create`` and ``main``; comment and blank lines
    dropped) must hash to one of
    :data:`BUILDERS`, each of which ``tests/test_venv_inprocess.py`` compares
    file for file (names, modes, link targets, ``pyvenv.cfg``, activate scripts
    byte for byte) with what that interpreter's ``venv`` makes. The templates
    are read from the target's own ``venv/scripts/{common,posix}``, with the
    substitutions that builder makes.

Falls back to ``python -m venv`` (:func:`builder_for` says why) for any builder not
in :data:`BUILDERS` (another Python release, a distributor's patch), a
non-Linux layout (Windows' ``Scripts``, macOS frameworks), a venv's
interpreter that is a wrapper script (its ``sys.executable`` is not known), or
an ABI the wheel tags do not name. A shim (pyenv's) in front of a base
interpreter is fine: ``venv`` run through it sees the interpreter's own path.
So is an interpreter in a venv: like ``venv``, the new one is made from its
``sys._base_executable``. The venv's own
interpreter is then asked where its prefix and site-packages are
(:func:`~pipenv_sync_ext.target.venv.create_beside`), and a layout other than
the one written also falls back.

``--seed`` runs the new venv's ``python -m ensurepip --upgrade --default-pip``
as ``EnvBuilder`` does (same environment and working directory).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.errors import TargetError
from pipenv_sync_ext.target.interpreter import Interpreter

#: sha256 of the normalised source from ``class EnvBuilder`` on -> how it substitutes template variables.
BUILDERS = {
    # CPython 3.11.7 (python.org sources, as pyenv builds them): values substituted as they are
    "7f701160e8fed143088bc83ece48aac25041b3e96d1ddac9281be5302f2adaf0": "plain",
    # Debian 12's python3.11 (3.11.2 with gh-124651 backported, and its ensurepip message): values quoted
    "70c083a0658da41822be0606dc7a5d346ef1d7afb62a3187bdb5e8da7e42e4fa": "quoted",
}


@dataclass(frozen=True)
class Builder:
    """What the target's ``python -m venv`` would use, known without running it."""

    python: str  # the interpreter as given: sys.executable of `python -m venv`
    base_executable: str  # its sys._base_executable (itself, or the base of the venv it is in)
    version: tuple[int, int, int]
    abiflags: str
    stdlib: Path  # <base_prefix>/lib/pythonX.Y
    quoting: str  # "plain" or "quoted" (gh-124651)


def builder_for(python: str, base: Interpreter) -> Builder | str:
    """The builder to write a venv for ``python`` (probed as ``base``), or why ``python -m venv`` must do it."""
    if os.name != "posix" or base.markers.get("sys_platform") != "linux":
        return f"{base.markers.get('sys_platform')}: only the Linux layout is written in-process"
    if base.markers.get("implementation_name") != "cpython":
        return "not CPython"
    if not (os.path.isabs(python) and os.path.isabs(base.base_executable)):
        return f"{python}: a relative path"
    if base.prefix == base.base_prefix:
        # Not in a venv: its sys.executable is sys._base_executable, also when reached through a shim
        # (pyenv's, asdf's), so `<shim> -m venv` writes what `<base_executable> -m venv` writes.
        python = base.base_executable
    elif is_64bit(os.path.realpath(python)) is None:
        return f"{python}: a venv's interpreter that is not an ELF executable (a wrapper script?)"
    major, minor, micro = (int(p) for p in base.version.split(".")[:3])
    abi = base.tags[0].split("-")[1] if base.tags and base.tags[0].count("-") == 2 else ""
    short = f"cp{major}{minor}"
    if not abi.startswith(short):
        return f"ABI {abi!r}: not one the wheel tags name for CPython {major}.{minor}"
    stdlib = Path(base.base_prefix, "lib", f"python{major}.{minor}")
    try:
        source = (stdlib / "venv" / "__init__.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return f"{stdlib}/venv: no venv module there"
    quoting = BUILDERS.get(builder_digest(source) or "")
    if quoting is None:
        return f"{stdlib}/venv: a builder this tool was not checked against"
    if not (stdlib / "venv" / "scripts" / "common").is_dir():
        return f"{stdlib}/venv/scripts: no activate script templates"
    return Builder(python, base.base_executable, (major, minor, micro), abi[len(short) :], stdlib, quoting)


def builder_digest(source: str) -> str | None:
    """sha256 of the module from ``class EnvBuilder`` on (the builder, ``create``, ``main``), comment and
    blank lines dropped; None without that class. Text, not ``ast``: parsing the module costs ~50 ms."""
    start = source.find("\nclass EnvBuilder")
    if start < 0:
        return None
    lines = (line.rstrip() for line in source[start:].splitlines())
    kept = "\n".join(line for line in lines if line and not line.lstrip().startswith("#"))
    return hashlib.sha256(kept.encode("utf-8")).hexdigest()


def is_64bit(path: str) -> bool | None:
    """From the ELF header (EI_CLASS), what ``sys.maxsize > 2**32`` says in the target; None if not ELF."""
    try:
        with open(path, "rb") as f:
            head = f.read(5)
    except OSError:
        return None
    if head[:4] != b"\x7fELF":
        return None
    return head[4] == 2


def write(into: Path, final: Path, *, builder: Builder, seed: bool) -> None:
    """Make ``into`` (absent) a venv that is, file for file, what ``python -m venv final`` would make.

    ``into`` may be a staging directory: every path written in the venv's files is ``final``'s.
    """
    wide = is_64bit(os.path.realpath(builder.base_executable))
    if wide is None:
        raise TargetError(f"{builder.base_executable}: not an ELF executable; cannot write a venv for it")
    major, minor, micro = builder.version
    short = f"{major}.{minor}"
    env_dir = os.path.abspath(final)
    python_dir, exename = os.path.split(os.path.abspath(builder.base_executable))
    os.mkdir(into)
    os.makedirs(into / "include" / f"python{short}{builder.abiflags}")
    os.makedirs(into / "lib" / f"python{short}" / "site-packages")
    if wide:
        os.symlink("lib", into / "lib64")
    os.mkdir(into / "bin")
    command = ["--without-pip"] if not seed else []
    (into / "pyvenv.cfg").write_text(
        f"home = {python_dir}\n"
        "include-system-site-packages = false\n"
        f"version = {major}.{minor}.{micro}\n"
        f"executable = {os.path.realpath(builder.python)}\n"
        f"command = {builder.python} -m venv {' '.join([*command, env_dir])}\n",
        encoding="utf-8",
    )
    bindir = into / "bin"
    _link_or_copy(builder.base_executable, bindir / exename, relative=False)
    for name in ("python", "python3", f"python3.{minor}"):
        if not os.path.exists(bindir / name):
            _link_or_copy(exename, bindir / name, relative=True)
    if seed:
        _ensurepip(into, exename)
    _scripts(
        into,
        builder,
        {
            "__VENV_DIR__": env_dir,
            "__VENV_NAME__": os.path.basename(env_dir),
            "__VENV_PROMPT__": f"({os.path.basename(env_dir)}) ",
            "__VENV_BIN_NAME__": "bin",
            "__VENV_PYTHON__": os.path.join(env_dir, "bin", exename),
        },
    )


def _link_or_copy(src: str, dst: Path, *, relative: bool) -> None:
    """A symlink, or a copy (mode 0o755) where the filesystem refuses symlinks, as ``venv`` does."""
    try:
        os.symlink(src, dst)
    except OSError:
        shutil.copyfile(dst.parent / src if relative else src, dst)
        os.chmod(dst, 0o755)


def _ensurepip(into: Path, exename: str) -> None:
    env = dict(os.environ, VIRTUAL_ENV=str(into))
    env.pop("PYTHONHOME", None)
    env.pop("PYTHONPATH", None)
    python = str(into / "bin" / exename)
    try:
        proc = subprocess.run(
            [python, "-m", "ensurepip", "--upgrade", "--default-pip"],
            env=env,
            cwd=into,
            executable=python,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
    except OSError as exc:
        raise TargetError(f"{python}: cannot run it to give the venv pip: {exc.strerror}") from None
    if proc.returncode != 0:
        last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"{into}: giving the new virtualenv pip (ensurepip) failed: {last}")


def _scripts(into: Path, builder: Builder, variables: dict[str, str]) -> None:
    """``EnvBuilder.install_scripts`` for the target's templates: ``common`` and ``posix``, subfolders kept."""
    root = builder.stdlib / "venv" / "scripts"
    for top in ("common", "posix"):
        base = root / top
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            dstdir = into / "bin" if rel == "." else into / "bin" / rel
            os.makedirs(dstdir, exist_ok=True)
            for name in files:
                src = os.path.join(dirpath, name)
                with open(src, "rb") as f:
                    data = f.read()
                if not name.endswith((".exe", ".pdb")):
                    try:
                        data = _substitute(data.decode("utf-8"), name, variables, builder.quoting).encode("utf-8")
                    except UnicodeError:
                        continue  # venv warns and skips a template that is not text
                (dstdir / name).write_bytes(data)
                shutil.copymode(src, dstdir / name)


def _substitute(text: str, name: str, variables: dict[str, str], quoting: str) -> str:
    if quoting == "quoted":  # gh-124651: each value quoted for the shell that reads the script
        if name.endswith(".ps1"):
            variables = {k: "'" + v.replace("'", "''") + "'" for k, v in variables.items()}
        elif not name.endswith(".bat"):
            variables = {k: shlex.quote(v) for k, v in variables.items()}
    for key, value in variables.items():
        text = text.replace(key, value)
    return text
