"""Was this venv moved (or copied) since it was made? Judged from what its creator really wrote.

No creator records "this venv lives at X" in one place, and each writes its
location differently (``python -m venv`` 3.8-3.13, ``virtualenv`` 20-21,
``uv venv``, with and without ``--relocatable``; pipenv makes its venvs with
``virtualenv``). The evidence, in the order it is trusted:

* **Console scripts' shebangs** (``bin/pip``, ``bin/<tool>``): pip, uv and this
  tool write ``#!<venv>/bin/python`` (distlib's ``/bin/sh`` + ``'''exec'`` form
  for long or spaced paths). A script whose interpreter is ``<old>/bin/<a python
  name this venv has>`` at another place, where ``<old>`` is gone or is a venv,
  is broken (``mv``) or runs in another venv (``cp -a``): the venv was moved.
  Relocatable shebangs (uv's ``$(dirname ...)``), ``#!/usr/bin/env``, and
  system interpreters (``#!/usr/bin/python3``) prove nothing and are skipped.
* **``bin/activate``'s ``VIRTUAL_ENV``**: venv and uv write the path as a
  literal, so a literal naming another place means activation is broken.
  virtualenv 21 writes a relocating script (``VIRTUAL_ENV="$CURRENT_ENV"``, the
  literal only used while that directory exists) and ``uv venv --relocatable``
  no literal at all: there, the literal counts only when it names another
  existing directory (a copy whose original is still there activates the
  original). Cygwin's ``$(cygpath ...)`` lines are skipped.
* **``pyvenv.cfg``'s ``command``** (venv 3.11+, virtualenv; uv writes none)
  only guards against one false alarm: a script installed into this venv from
  another live venv (``otherenv/bin/pip install --prefix``) is not a move when
  ``command`` names this very place.

``home``, ``executable`` and ``base-*`` name the base interpreter, never the
venv, and are not evidence. Paths are compared as files (``samefile``), never
as strings: a venv made through a symlinked parent records the link.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

#: The interpreter names a venv's bin/ may hold (python, python3, python3.12, python3.13t, pypy3...).
PYTHON_NAME = re.compile(r"^(python|pypy|graalpy)(\d+(\.\d+)?t?)?w?$")
_SH_EXEC = re.compile(r"^'''exec' (.*) \"\$0\" \"\$@\"\s*$")
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?VIRTUAL_ENV=(.*?)\s*$", re.MULTILINE)
_HEAD = 4096  # a shebang, and distlib's /bin/sh form, fit in the first lines


@dataclass(frozen=True)
class Moved:
    """The venv was made at ``old``; ``files`` (relative to the venv) still point there."""

    old: str
    files: tuple[str, ...]


def moved_from(venv: Path, command: str | None) -> Moved | None:
    """Where ``venv`` was made, when what it holds still points there; ``None`` when it is in place.

    ``command`` is ``pyvenv.cfg``'s ``command`` line, if any.
    """
    bindir = venv / "bin"
    try:
        names = sorted(os.listdir(bindir))
    except OSError:
        return None
    pythons = {n for n in names if PYTHON_NAME.match(n)}
    stale: dict[str, list[str]] = {}
    for name in names:
        if name.startswith(("activate", "deactivate")) or name in pythons:
            continue
        path = bindir / name
        if path.is_symlink() or not path.is_file():
            continue
        old = _stale_prefix(shebang_interpreter(path), bindir, pythons)
        if old is not None:
            stale.setdefault(old, []).append(f"bin/{name}")
    if stale and _command_names(command, venv):
        # Installed here from another live venv, not a move (see the module docstring).
        stale = {old: files for old, files in stale.items() if not (Path(old) / "pyvenv.cfg").is_file()}
    activate = activate_path(bindir / "activate")
    if activate is not None and not _same(activate, venv):
        stale.setdefault(activate, []).append("bin/activate")
    if not stale:
        return None
    old, files = max(stale.items(), key=lambda item: len(item[1]))
    return Moved(old, tuple(files))


def shebang_interpreter(path: Path) -> str | None:
    """The absolute interpreter a script's shebang runs, or None (not a script, or relocatable)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    lines = head.decode("utf-8", "replace").split("\n")
    first = lines[0].rstrip("\r")[2:].strip()
    if first == "/bin/sh" and len(lines) > 1:
        m = _SH_EXEC.match(lines[1].rstrip("\r"))
        if not m or "$" in m.group(1):  # not a launcher, or uv's relocatable "$(dirname -- ...)"
            return None
        words = _split(m.group(1))
        interpreter = words[0] if words else None
    elif first.startswith('"'):  # distlib's enquoted form for paths with spaces
        interpreter = first[1:].split('"', 1)[0]
    else:
        interpreter = first.split(" ", 1)[0]  # as the kernel reads it: '#!/path/python -E'
    return interpreter if interpreter and os.path.isabs(interpreter) else None


def activate_path(activate: Path) -> str | None:
    """The venv location ``bin/activate`` would activate, when it says one other than its own.

    None when there is no literal path, or the script relocates itself and its
    literal is not an existing directory (virtualenv 21 uses it only then).
    """
    try:
        text = activate.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    literals: list[str] = []
    relocating = False
    for value in _ASSIGNMENT.findall(text):
        if value.startswith("$(cygpath"):
            continue  # the Cygwin branch; the literal is on the other one
        if "$" in value:
            relocating = True  # "$CURRENT_ENV", "$(dirname -- ...)"
            continue
        words = _split(value)
        if len(words) == 1 and os.path.isabs(words[0]):
            literals.append(words[0])
    if not literals:
        return None
    if relocating and not os.path.isdir(literals[0]):
        return None
    return literals[0]


def _stale_prefix(interpreter: str | None, bindir: Path, pythons: set[str]) -> str | None:
    """``<old>`` when the interpreter is ``<old>/bin/<a python of this venv>`` at another place."""
    if interpreter is None:
        return None
    directory, base = os.path.split(interpreter)
    if _same(directory, bindir):
        return None
    old, tail = os.path.split(directory)
    if tail != "bin" or base not in pythons:
        return None  # /usr/bin/python3 of a script written for the system, or another layout
    if os.path.exists(old) and not os.path.isfile(os.path.join(old, "pyvenv.cfg")):
        return None  # an existing prefix that is no venv: a system or pyenv interpreter
    return old


def _command_names(command: str | None, venv: Path) -> bool:
    """Does ``pyvenv.cfg``'s ``command`` end with this venv's path? (The path may hold spaces.)"""
    if not command:
        return False
    tails = (command[i + 1 :] for i, ch in enumerate(command) if ch == " ")
    return any(os.path.isabs(tail) and _same(tail, venv) for tail in tails)


def _same(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _split(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:
        return []
