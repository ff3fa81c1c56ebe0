"""What lands in the scripts directory, as pip 26 writes it: launchers, their names, ``#!python`` scripts.

The reference is pip 26.3 (distlib 0.4.4 inside), on POSIX; every link mode
(and ``--link-mode installer``, whose own launchers are replaced by these)
writes the same bytes, so a venv synced by this tool is file for file what
``pip install --no-deps --no-compile`` makes (``tests/test_pip_parity.py``).

Launchers (entry points, console and gui alike on POSIX)
    pip's template, byte for byte, after distlib's shebang: ``#!<python>``,
    or, when the path holds a space, is longer than 127 bytes (512 on macOS)
    or the interpreter is itself a ``#!`` script, the ``/bin/sh`` form
    ``'''exec' <python> "$0" "$@"``. For a target older than Python 3.9
    (which pip 26 cannot run) ``str.removesuffix`` is not there: the
    launcher uses pip 25.3's ``endswith`` test instead. pip 23.2 (ensurepip's
    for 3.11/3.12) still used distlib's template (``import re``); scripts
    behave the same.
Names (``script_names``)
    pip's versioned names, keyed on the entry point's name for any
    distribution: ``pip`` gives ``pip``, ``pip3`` and ``pip3.Y`` (the target's
    version) and drops every other ``pipN``/``pipN.M`` entry; ``easy_install``
    gives ``easy_install`` and ``easy_install-3.Y`` and drops the other
    ``easy_install-N.M``. ensurepip's private ``ENSUREPIP_OPTIONS`` is not
    honoured: a sync's result does not depend on it.
``.data/scripts`` files
    Copied with their mode (pip never adds an executable bit); a ``#!python``
    first line (also ``#!pythonw``, ``#!python3 -E``: the whole line) becomes
    ``#!<python>``, as pip writes it. Deliberately unlike pip, where a
    launcher would get the ``/bin/sh`` form (a space in the path, too long:
    pip's line cannot run there), so does the script, as uv does. A data script that a launcher replaces (its
    name, less ``.exe``/``-script.py``/``.pya``, is an entry point, or it is
    a launcher's path) is not written at all and has no RECORD row; pip
    leaves its archive path in RECORD (a file that does not exist).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from functools import lru_cache

# pip 26.3's PipScriptMaker.script_template (distlib fills in module, import_name, func)
_TEMPLATE = """\
import sys
from {module} import {import_name}
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit({func}())
"""
# pip 25.3's, for interpreters without str.removesuffix (3.8 and older)
_TEMPLATE_OLD = """\
import sys
from {module} import {import_name}
if __name__ == '__main__':
    if sys.argv[0].endswith('.exe'):
        sys.argv[0] = sys.argv[0][:-4]
    sys.exit({func}())
"""
_MAX_SHEBANG = 512 if sys.platform == "darwin" else 127


@lru_cache(maxsize=8)
def _is_shell(executable: str) -> bool:
    """distlib's test: the interpreter is itself a script (a ``#!`` line), which a shebang cannot name."""
    try:
        with open(executable, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def shebang(executable: str) -> bytes:
    """distlib 0.4.4's ``_build_shebang`` on POSIX, for ``executable`` (quoted when it holds a space)."""
    exe = (f'"{executable}"' if " " in executable and not executable.startswith('"') else executable).encode("utf-8")
    if b" " not in exe and len(exe) + 3 <= _MAX_SHEBANG and not _is_shell(executable):
        return b"#!" + exe + b"\n"
    return b"#!/bin/sh\n'''exec' " + exe + b' "$0" "$@"\n' + b"' '''\n"


def launcher(executable: str, python_version: str, *, module: str, attr: str) -> bytes:
    """The script pip 26 writes for entry point ``module:attr`` (``python_version``: the target's, "X.Y[.Z]")."""
    old = tuple(int(p) for p in python_version.split(".")[:2]) < (3, 9)
    text = (_TEMPLATE_OLD if old else _TEMPLATE).format(module=module, import_name=attr.split(".")[0], func=attr)
    return shebang(executable) + text.encode("utf-8")


def fix_shebang(data: bytes, executable: str) -> bytes:
    """pip's ``fix_script``: a first line starting ``#!python`` is replaced, whole, by the target's shebang."""
    if not data.startswith(b"#!python"):
        return data
    end = data.find(b"\n")
    rest = data[end + 1 :] if end >= 0 else b""
    line = shebang(executable)
    if line.count(b"\n") == 1:
        line = line[:-1] + os.linesep.encode("ascii")  # pip: sys.executable + os.linesep
    return line + rest


_PIP_VERSIONED = re.compile(r"pip(\d+(\.\d+)?)?$")
_EASY_INSTALL_VERSIONED = re.compile(r"easy_install(-\d+\.\d+)?$")


def script_names(
    entry_points: Iterable[tuple[str, str, str, str]], python_version: str
) -> dict[str, tuple[str, str, str]]:
    """Launchers to write: name -> (module, attr, section), pip's ``get_console_script_specs`` for console ones.

    A gui script named like a console script is written after it (it wins), as pip does.
    """
    major, minor = python_version.split(".")[:2]
    console = {name: (module, attr) for name, module, attr, section in entry_points if section == "console"}
    gui = [(name, module, attr) for name, module, attr, section in entry_points if section == "gui"]
    names: dict[str, tuple[str, str, str]] = {}
    pip = console.pop("pip", None)
    if pip is not None:
        for name in ("pip", f"pip{major}", f"pip{major}.{minor}"):
            names[name] = (*pip, "console")
        for name in [n for n in console if _PIP_VERSIONED.match(n)]:
            del console[name]
    easy_install = console.pop("easy_install", None)
    if easy_install is not None:
        for name in ("easy_install", f"easy_install-{major}.{minor}"):
            names[name] = (*easy_install, "console")
        for name in [n for n in console if _EASY_INSTALL_VERSIONED.match(n)]:
            del console[name]
    for name, (module, attr) in console.items():
        names[name] = (module, attr, "console")
    for name, module, attr in gui:
        names[name] = (module, attr, "gui")
    return names


def replaced_by_launcher(
    dest: str, entry_points: Iterable[tuple[str, str, str, str]], launchers: Mapping[str, object]
) -> bool:
    """A ``.data/scripts`` file (``dest``: its path in the scripts directory) that a launcher replaces.

    pip's ``is_entrypoint_wrapper`` (the basename, less ``.exe``, ``-script.py`` or ``.pya``, names an entry
    point of the wheel), or a launcher is written at that very path.
    """
    if dest in launchers:
        return True
    base = dest.rpartition("/")[2]
    lower = base.lower()
    for suffix in (".exe", "-script.py", ".pya"):
        if lower.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return any(name == base for name, _m, _a, _s in entry_points)
