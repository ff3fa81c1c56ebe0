"""Whether a wheel is for the platform its file name says: its ``WHEEL`` file's ``Tag:`` lines decide.

Which wheel a sync installs is chosen by the tags in its file name, and a file
name comes from a page (an index, a ``--find-links`` page, a mirror), which is
untrusted. The lock's sha256 proves the bytes are a file the lock allows for the
package, not that they are the file the name describes: a lock made on every
platform allows the Windows wheel too, and a page that lists its bytes as
``name-1.0-py3-none-any.whl`` would get it installed on Linux, and stored under
that name for every later sync.

Decision: a downloaded wheel is refused (like a hash mismatch: nothing kept, the
next place asked) when none of its ``WHEEL`` tags has the ABI and platform of one
of its file name's tags. Platforms are compared by family and architecture
(``manylinux*``/``musllinux*``/``linux`` by architecture, ``macosx`` as one),
because wheels renamed by hand from ``linux_x86_64`` to ``manylinux1_x86_64``
(with the ``WHEEL`` file left as it was) are real and install fine; the
interpreter tag is not compared (``py2.py3`` against ``py3``). A ``WHEEL``
without ``Tag:`` lines, or not readable, is left to preflight to judge.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

_LINUX = re.compile(r"^(?:many|musl)?linux(?:\d+|_\d+_\d+)?_(.+)$")


def _platform(platform: str) -> str:
    if match := _LINUX.match(platform):
        return f"linux:{match.group(1)}"
    if platform.startswith("macosx_"):
        return "macosx"
    return platform


def _pairs(tags: set[str]) -> set[tuple[str, str]]:
    from packaging.tags import parse_tag

    return {(t.abi, _platform(t.platform)) for tag in tags for t in parse_tag(tag)}


def tags_problem(path: Path, filename: str) -> str | None:
    """Why the wheel at ``path`` is not for the tags ``filename`` gives it, or None (see the module)."""
    # packaging only here, once a download arrived: a sync answered from the store never loads it
    from email.parser import HeaderParser

    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        _name, _version, _build, named = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")]
            if len(infos) != 1:
                return None
            text = archive.read(infos[0]).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        return None
    declared = {t.strip() for t in HeaderParser().parsestr(text).get_all("Tag") or [] if t.strip()}
    try:
        if not declared or _pairs(declared) & _pairs({str(t) for t in named}):
            return None
    except ValueError:
        return None
    return f"its WHEEL file says it is for {', '.join(sorted(declared))}, not what its file name says"
