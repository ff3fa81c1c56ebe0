"""One confinement rule for every path computed from outside data.

Index pages name files, wheels name members, entry points name scripts,
RECORD rows and manifests name paths to remove, journals name what to undo:
all of it is attacker-controlled until checked. Every such path goes through
:func:`confine` (a relative path under a root) or :func:`component` (one file
name) *before* anything is written or deleted, so there is one place to get
the rule right and one property test that proves it (``tests/test_confine.py``).

The rule, for a relative path from outside under a trusted ``root``:

* it is text: no NUL, no control characters (C0, DEL, C1) and no Unicode line
  or paragraph separators, which no real wheel uses and which would let a name
  split a line-based record;
* it is relative and POSIX: not empty, no leading ``/``, no backslash, no drive;
* it has no ``..`` component (``.`` and empty components are refused too: they
  are never produced by a real tool, and refusing them keeps one spelling per
  path);
* every component is at most 255 bytes in UTF-8 (the common filesystem limit);
* joined to ``root`` and resolved through every symlink that exists on the way
  (the root's own included), it still lies under the root's real path. A
  symlink planted in a venv (``lib64 -> /``) cannot lead a write outside.

What passes is returned as the lexical path ``root / relative`` (not the
resolved one: a venv reached through a symlink keeps its name). Standard
library only.

:func:`relative` is the lexical half alone, for names checked before their
root is known (archive members in preflight, manifest entries read back);
:class:`Confiner` is :func:`confine` for the thousands of paths of one
install under one root: it resolves each directory prefix once (an
``lstat`` per new prefix, a ``realpath`` only where a prefix is a symlink),
so confining every file of a 3,000-directory wheel costs milliseconds, and it
gives the same answer as :func:`confine` for every path (property-tested).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from pipenv_sync_ext.errors import UnsafePathError

_MAX_COMPONENT = 255
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators (U+2028, U+2029, U+0085 is C1).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _problem(relative: str) -> str | None:
    """Why ``relative`` is not an acceptable relative POSIX path, or None."""
    if not relative:
        return "is empty"
    if _FORBIDDEN.search(relative):
        return "holds a control or line-separator character"
    if relative.startswith("/") or "\\" in relative or (len(relative) > 1 and relative[1] == ":"):
        return "is not a relative POSIX path"
    for part in relative.split("/"):
        if part in ("", ".", ".."):
            return f"has a {part!r} component" if part else "has an empty component"
        # (up to 4 bytes a character: only a long part can be over the limit)
        if len(part) > _MAX_COMPONENT // 4 and len(part.encode("utf-8", "surrogatepass")) > _MAX_COMPONENT:
            return f"has a component longer than {_MAX_COMPONENT} bytes"
    return None


def _real_under(path: str, real_root: str) -> bool:
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def confine(root: Path | str, relative: str, *, what: str) -> Path:
    """``root / relative`` when it stays under ``root``; else :class:`UnsafePathError` naming ``what``.

    ``what`` says where the path came from, for the message: for example
    ``"archive member of foo-1.0-py3-none-any.whl"``.
    """
    if not isinstance(relative, str):
        raise UnsafePathError(f"{what}: {relative!r} is not a path; refused")
    problem = _problem(relative)
    if problem is not None:
        raise UnsafePathError(f"{what}: {relative!r} {problem}; refused")
    base = os.path.abspath(root)
    joined = os.path.join(base, *relative.split("/"))
    if not _real_under(joined, os.path.realpath(base)):
        raise UnsafePathError(f"{what}: {relative!r} leads outside {base} (through a symlink); refused")
    return Path(joined)


def component_problem(name: str) -> str | None:
    """Why ``name`` is not one safe file name (``"has a '..' component"``...), or None: for messages of its own."""
    if not isinstance(name, str):
        return "is not a file name"
    problem = _problem(name)
    if problem is None and "/" in name:
        problem = "is not a single file name"
    return problem


def component(name: str, *, what: str) -> str:
    """``name`` when it is one safe file name (no ``/``, not ``.`` or ``..``); else :class:`UnsafePathError`."""
    problem = component_problem(name)
    if problem is not None:
        raise UnsafePathError(f"{what}: {name!r} {problem}; refused")
    return name


def path_problem(path: str) -> str | None:
    """Why ``path`` is not an acceptable relative POSIX path (the lexical rule), or None: for messages of its own."""
    return _problem(path) if isinstance(path, str) else "is not a path"


def relative(path: str, *, what: str) -> str:
    """``path`` when it is an acceptable relative POSIX path (the lexical rule only); else :class:`UnsafePathError`."""
    if not isinstance(path, str):
        raise UnsafePathError(f"{what}: {path!r} is not a path; refused")
    problem = _problem(path)
    if problem is not None:
        raise UnsafePathError(f"{what}: {path!r} {problem}; refused")
    return path


class Confiner:
    """:func:`confine` under one ``root`` for many paths, each directory prefix resolved once.

    Not thread-safe by itself: one per install (a dict update races harmlessly, at
    worst a prefix is resolved twice).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = os.path.abspath(root)
        self._real_root = os.path.realpath(self.root)
        self._base = self.root.rstrip("/")  # "" for "/": every prefix below is reached by rpartition
        # prefix -> its lstat mode (0: it does not exist); each is known to resolve under the root
        self._modes: dict[str, int] = {self._base: self._mode(self.root)}

    def __call__(self, path: str, *, what: str) -> Path:
        return Path(self.check(path, what=what))

    def check(self, path: str, *, what: str) -> str:
        """:meth:`__call__` as a string (what a writer of thousands of files wants)."""
        return self.resolve(path, what=what)[0]

    def resolve(self, path: str, *, what: str) -> tuple[str, int]:
        """:meth:`check`, and the lstat mode of what is there now (0: nothing)."""
        relative(path, what=what)
        joined = f"{self._base}/{path}"  # the lexical rule holds: a plain join is exact
        if self._holds(self._prefix(joined.rpartition("/")[0], path, what)):
            return joined, self._leaf(joined, path, what)
        return joined, 0

    def blocking_file(self, joined: str) -> str | None:
        """An existing prefix of ``joined`` (a path :meth:`check` returned) that is not a directory, if any:
        a file where a directory is needed."""
        directory = joined.rpartition("/")[0]
        while directory != self._base and directory in self._modes:
            mode = self._modes[directory]
            if mode and not self._holds(mode, directory):
                return directory
            directory = directory.rpartition("/")[0]
        return None

    @staticmethod
    def _mode(full: str) -> int:
        try:
            return os.lstat(full).st_mode
        except OSError:
            return 0

    @staticmethod
    def _holds(mode: int, full: str = "") -> bool:
        """Whether an entry of this mode may have entries below it (a directory, or a link: followed)."""
        return stat.S_ISDIR(mode) or (stat.S_ISLNK(mode) and (not full or os.path.isdir(full)))

    def _prefix(self, directory: str, path: str, what: str) -> int:
        """Check ``directory`` and every prefix above it; its mode (0: it does not exist)."""
        known = self._modes.get(directory)
        if known is not None:
            return known
        above = self._prefix(directory.rpartition("/")[0], path, what)
        mode = self._leaf(directory, path, what) if self._holds(above) else 0
        self._modes[directory] = mode
        return mode

    def _leaf(self, full: str, path: str, what: str) -> int:
        """``full``'s lstat mode (0: it does not exist); refused when it is a symlink resolving outside the root."""
        mode = self._mode(full)
        if stat.S_ISLNK(mode) and not _real_under(full, self._real_root):
            raise UnsafePathError(f"{what}: {path!r} leads outside {self.root} (through a symlink); refused")
        return mode


def is_within(path: Path | str, root: Path | str) -> bool:
    """True when ``path``, resolved through existing symlinks, lies under ``root``'s real path.

    For paths read back from the venv itself (RECORD rows, metadata directories):
    identity, not spelling, decides.
    """
    return _real_under(os.path.abspath(path), os.path.realpath(root))
