"""Synthetic wheels with the odd features real PyPI wheels have, and venv trees compared file for file.

The corpus (:func:`build_corpus`) is what ``tests/test_pip_parity.py`` installs with pip and with this tool:
headers (two levels), ``.data/data`` files with and without an executable bit, ``.data/scripts`` with
``#!python`` (executable or not), ``#!pythonw -E``, ``#!/bin/sh``, a binary, a nested one, and ones a console
script replaces (``X`` and ``X.exe``); console and gui scripts (a dotted attribute too); pip's and
easy_install's versioned entry points; a namespace package shared by two wheels with a legacy ``-nspkg.pth``;
a ``.pth``; non-ASCII, space and comma file names; a PEP 639 ``licenses/`` tree; ``.data/purelib`` from a
platlib root; an empty file; an odd METADATA ``Name`` spelling; and a wheel of 1,500 files.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path

EXEC = 0o100755 << 16  # a zip member's external_attr: a regular, executable file
FILE = 0o100644 << 16


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    dest: Path,
    name: str,
    version: str,
    members: Mapping[str, tuple[bytes, int]],
    *,
    purelib: bool = True,
    entry_points: str = "",
    tag: str = "py3-none-any",
) -> Path:
    """A wheel with chosen member modes, ``.data/`` members, entry points and Root-Is-Purelib; RECORD in csv."""
    dist = re.sub(r"[-_.]+", "_", name).lower()
    info = f"{dist}-{version}.dist-info"
    contents = dict(members)
    contents[f"{info}/METADATA"] = (f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n".encode(), FILE)
    wheel = f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {str(purelib).lower()}\nTag: {tag}\n"
    contents[f"{info}/WHEEL"] = (wheel.encode(), FILE)
    if entry_points:
        contents[f"{info}/entry_points.txt"] = (entry_points.encode(), FILE)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows((p, _hash(d), len(d)) for p, (d, _m) in contents.items())
    writer.writerow((f"{info}/RECORD", "", ""))
    contents[f"{info}/RECORD"] = (out.getvalue().encode(), FILE)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, (data, mode) in contents.items():
            item = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            item.external_attr = mode
            item.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(item, data)
    return path


_MAIN = b"""\
import sys


def main():
    print("main of " + __name__ + " as " + sys.argv[0].rsplit("/", 1)[-1])


def gui():
    print("gui of " + __name__)


class obj:
    @staticmethod
    def method():
        print("method of " + __name__)
"""


def build_corpus(dest: Path) -> dict[str, Path]:
    """The corpus wheels by canonical name."""
    data = "odd_pkg_tool-1.0.data"
    odd = make_wheel(
        dest,
        "Odd_Pkg.Tool",  # canonical: odd-pkg-tool (pip 25.3+ and uv name the headers folder so)
        "1.0",
        {
            "odd_pkg_tool/__init__.py": (_MAIN, FILE),
            "odd_pkg_tool/tool.sh": (b"#!/bin/sh\necho tool\n", EXEC),
            "odd_pkg_tool/py.typed": (b"", FILE),
            "odd_pkg_tool/donn\u00e9es/caf\u00e9.txt": ("caf\u00e9\n".encode(), FILE),
            "odd_pkg_tool/\u65e5\u672c/\u30c6\u30b9\u30c8.txt": (b"nihon\n", FILE),
            "odd_pkg_tool/with space, comma.txt": (b"csv quoting\n", FILE),
            "odd_pkg_tool.pth": (b"import sys; sys.odd_pkg_tool_pth = True\n", FILE),
            "odd_pkg_tool-1.0.dist-info/licenses/LICENSE": (b"MIT\n", FILE),
            "odd_pkg_tool-1.0.dist-info/licenses/vendor/NOTICE.txt": (b"notice\n", FILE),
            f"{data}/headers/odd.h": (b"#define ODD 1\n", FILE),
            f"{data}/headers/sub/inner.h": (b"#define INNER 1\n", FILE),
            f"{data}/data/share/odd/readme.txt": (b"shared data\n", FILE),
            f"{data}/data/share/odd/run.sh": (b"#!/bin/sh\necho run\n", EXEC),
            f"{data}/purelib/odd_extra.py": (b"EXTRA = 1\n", FILE),
            f"{data}/scripts/odd-py": (b"#!python\nprint('odd-py ran')\n", EXEC),
            f"{data}/scripts/odd-noexec": (b"#!python\nprint('odd-noexec ran')\n", FILE),
            f"{data}/scripts/odd-pythonw": (b"#!pythonw -E\nprint('odd-pythonw ran')\n", EXEC),
            f"{data}/scripts/odd-sh": (b"#!/bin/sh\necho odd-sh ran\n", EXEC),
            f"{data}/scripts/odd-bin": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), EXEC),
            f"{data}/scripts/nested/odd-nested": (b"#!python\nprint('nested ran')\n", EXEC),
            # replaced by the console scripts of the same name (setuptools' own wrappers)
            f"{data}/scripts/odd-clash": (b"#!python\nprint('the data script, not the launcher')\n", EXEC),
            f"{data}/scripts/odd.exe": (b"MZ not a launcher for POSIX\n", EXEC),
        },
        entry_points=(
            "[console_scripts]\nodd = odd_pkg_tool:main\nodd-clash = odd_pkg_tool:main\n"
            "odd-dotted = odd_pkg_tool:obj.method\n"
            "[gui_scripts]\nodd-gui = odd_pkg_tool:gui\n"
        ),
    )
    names = ("pip", "pip3", "pip3.9", "pip9", "pipx", "easy_install", "easy_install-3.9", "easy_install-3")
    pipnames = make_wheel(
        dest,
        "pipnames",
        "2.0",
        {"pipnames/__init__.py": (_MAIN, FILE)},
        entry_points="[console_scripts]\n" + "".join(f"{n} = pipnames:main\n" for n in names),
    )
    plat = make_wheel(
        dest,
        "platpkg",
        "3.0",
        {
            "platpkg/__init__.py": (b"P = 3\n", FILE),
            "platpkg/_native.cpython-311-x86_64-linux-gnu.so": (b"\x7fELF" + bytes(1000), EXEC),
            "platpkg-3.0.data/purelib/platpkg_pure.py": (b"PURE = 1\n", FILE),
            "platpkg-3.0.data/platlib/platpkg_plat.py": (b"PLAT = 1\n", FILE),
        },
        purelib=False,
    )
    ns_a = make_wheel(
        dest,
        "nsroot.alpha",
        "1.0",
        {
            "nsroot/alpha/__init__.py": (b"A = 1\n", FILE),
            "nsroot.alpha-1.0-py3.11-nspkg.pth": (b"import sys; sys.nsroot_alpha_pth = True\n", FILE),
        },
    )
    ns_b = make_wheel(dest, "nsroot-beta", "1.0", {"nsroot/beta/__init__.py": (b"B = 1\n", FILE)})
    many = make_wheel(
        dest,
        "manyfiles",
        "1.0",
        {f"manyfiles/d{i // 100:02d}/m{i:04d}.py": (f"N = {i}\n".encode(), FILE) for i in range(1500)},
    )
    return {
        "odd-pkg-tool": odd,
        "pipnames": pipnames,
        "platpkg": plat,
        "nsroot-alpha": ns_a,
        "nsroot-beta": ns_b,
        "manyfiles": many,
    }


def tree_of(
    root: Path, *, exclude: tuple[str, ...] = (".pipenv-sync-stamp.json",)
) -> dict[str, tuple[str, bytes, int]]:
    """Every entry under ``root`` but ``__pycache__``: kind, bytes (or link target) and permission bits."""
    found: dict[str, tuple[str, bytes, int]] = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if rel in exclude:
                continue
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path).encode(), 0)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", b"", st.st_mode & 0o777)
            else:
                found[rel] = ("file", path.read_bytes(), st.st_mode & 0o777)
    return found


_INSTALLER_ROW = re.compile(rb"^(.*\.dist-info/INSTALLER),[^,]*,\d+$")


def normalized(
    tree: Mapping[str, tuple[str, bytes, int]], *, launchers: frozenset[str] = frozenset(), read_only: bool = False
) -> dict[str, tuple[str, bytes, int]]:
    """``tree`` less what legitimately differs between pip and this tool, the same way for both.

    * ``INSTALLER``'s content (``pip`` / ``pipenv-sync``) and its RECORD row's hash and size;
    * RECORD rows of ``<dist>.data/...`` paths: pip keeps the archive path of a ``.data/scripts`` file a launcher
      replaced (no such file exists); this tool writes no such row;
    * ``launchers`` (paths in ``bin/``), only when the reference pip is not pip 26: their text after the shebang
      (pip 23.2 wrote distlib's template), and their RECORD rows' hash and size;
    * ``read_only``: the write bits (hard links share the store's read-only inodes).
    Everything else is compared as is: every path, byte, executable bit, RECORD's order and line ends.
    """
    out: dict[str, tuple[str, bytes, int]] = {}
    launcher_rows = {b"../../../bin/" + name.rpartition("/")[2].encode() for name in launchers}
    for rel, (kind, data, mode) in tree.items():
        if read_only:
            mode &= 0o555
        if rel.endswith(".dist-info/INSTALLER"):
            data = b"<installer>"
        elif rel.endswith(".dist-info/RECORD"):
            lines = []
            for line in data.split(b"\r\n"):
                path = line.split(b",", 1)[0]
                if path.split(b"/", 1)[0].endswith(b".data"):
                    continue
                if path in launcher_rows:
                    line = path + b",*,*"
                lines.append(_INSTALLER_ROW.sub(rb"\1,*,*", line))
            data = b"\r\n".join(lines)
        elif rel in launchers:
            cut = 3 if data.startswith(b"#!/bin/sh\n'''exec'") else 1
            data = b"\n".join(data.split(b"\n")[:cut]) + b"\n<launcher body>"
        out[rel] = (kind, data, mode)
    return out
