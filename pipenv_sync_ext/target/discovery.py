"""Which interpreter a new venv is made with, found as pipenv's ``--python`` finds it.

``--python`` takes a path, a version (``3``, ``3.12``, ``3.12.1``, also spelled
``python3.12``) or a command name (``pypy3``). With none, the version the lock's
``_meta.requires`` names when one is found, else the Python running this tool.

A version is looked for the way pipenv's finder (pythonfinder) looks, in this
order, the first place with a match winning:

1. pyenv's installs, ``$PYENV_ROOT/versions/X.Y.Z`` (default ``~/.pyenv``), newest first;
2. asdf's, ``$ASDF_DATA_DIR/installs/python/X.Y.Z`` (default ``~/.asdf``), newest first;
3. ``PATH``, by the ``py`` launcher's rules: ``pythonX.Y`` (for ``3``: the newest
   ``python3.N``), then ``pythonX``, then ``python``, the first runnable one of each
   name in PATH order.

Every candidate is *run* (``-c 'print(sys.version_info)'``) and must answer
with a matching version: a pyenv shim for a version that is not selected
(``pyenv: python3.12: command not found``), a dangling link or a broken
wrapper is skipped, and named in the error when nothing else is found.
Unlike pipenv, pyenv's installs are searched even when ``pyenv`` itself is not
on PATH (a CI image with ``PYENV_ROOT`` and no shell setup), and a command
name is run too before it is used (pipenv's last-resort ``which`` is not).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from pipenv_sync_ext.errors import TargetError

_VERSION = re.compile(r"(?:python|py)?(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_PLAIN_VERSION_DIR = re.compile(r"\d+\.\d+\.\d+")
_ASK = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
_PROBE_TIMEOUT = 20  # pipenv gives 5 s; a cold start of a big interpreter on a busy CI machine can take more


def find_python(spec: str | None, requires: Mapping[str, str]) -> str:
    """The interpreter to create a venv with (see the module docstring)."""
    if spec:
        if os.sep in spec or spec.startswith("~") or Path(spec).is_file():
            path = Path(os.path.expanduser(spec))
            if not path.is_file():
                raise TargetError(
                    f"--python {spec}: no such interpreter",
                    hint="give a version installed here (--python 3.12) or a path (--python /usr/bin/python3)",
                )
            return str(path.absolute())
        return Finder().find(spec)
    wanted = (requires.get("python_full_version") or requires.get("python_version") or "").strip()
    if re.fullmatch(r"\d+(\.\d+)*", wanted):
        found = Finder().search(wanted)
        if found is not None:
            return found
    return sys.executable


class Finder:
    """One search; remembers why candidates were skipped, for the error message."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.skipped: list[str] = []

    def find(self, spec: str) -> str:
        found = self.search(spec)
        if found is not None:
            return found
        if _VERSION.fullmatch(spec):
            where = "in pyenv's or asdf's installs or on PATH"
        else:
            where = "on PATH"
        message = f"--python {spec}: no runnable {'Python ' if where != 'on PATH' else ''}{spec} found {where}"
        if self.skipped:
            message += "; skipped " + "; ".join(self.skipped[:3])
        raise TargetError(message + " (give a path with --python /path/to/python)")

    def search(self, spec: str) -> str | None:
        m = _VERSION.fullmatch(spec)
        if m is None:
            return self._first_runnable(self._on_path(spec), None)
        wanted = tuple(int(g) for g in m.groups() if g is not None)
        for candidates in (self._installs("pyenv"), self._installs("asdf")):
            found = self._first_runnable(candidates, wanted)
            if found is not None:
                return found
        return self._on_path_by_version(wanted)

    def _installs(self, tool: str) -> Iterator[str]:
        """``<root>/<X.Y.Z>/bin/pythonX.Y`` of a version manager, newest first."""
        if tool == "pyenv":
            root = os.path.join(self.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"), "versions")
        else:
            base = self.environ.get("ASDF_DATA_DIR") or os.path.expanduser("~/.asdf")
            root = os.path.join(base, "installs", "python")
        try:
            names = [n for n in os.listdir(root) if _PLAIN_VERSION_DIR.fullmatch(n)]
        except OSError:
            return
        for name in sorted(names, key=lambda n: tuple(int(p) for p in n.split(".")), reverse=True):
            major, minor, _patch = name.split(".")
            for exe in (f"python{major}.{minor}", f"python{major}", "python"):
                path = os.path.join(root, name, "bin", exe)
                if os.path.isfile(path):
                    yield path
                    break

    def _on_path(self, name: str) -> Iterator[str]:
        for directory in self.environ.get("PATH", os.defpath).split(os.pathsep):
            path = os.path.join(directory or ".", name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                yield os.path.abspath(path)

    def _on_path_by_version(self, wanted: tuple[int, ...]) -> str | None:
        if len(wanted) >= 2:
            names = [f"python{wanted[0]}.{wanted[1]}"]
        else:  # the py launcher's `py -3`: the newest python3.N on PATH
            names = self._minor_names(wanted[0])
        found: list[tuple[tuple[int, ...], str]] = []
        for name in names:
            for path in self._on_path(name):  # in PATH order, as a shell runs it; one that cannot run is skipped
                version = self._version(path)
                if version is not None:
                    if _matches(version, wanted):
                        found.append((version, path))
                    break
            if found and len(wanted) >= 2:
                break
        if found:
            return max(found, key=lambda item: item[0])[1]  # max() keeps the first of equals
        return self._first_runnable(
            (p for name in (f"python{wanted[0]}", "python") for p in self._on_path(name)), wanted
        )

    def _minor_names(self, major: int) -> list[str]:
        pattern = re.compile(rf"python{major}\.\d+")
        names: set[str] = set()
        for directory in self.environ.get("PATH", os.defpath).split(os.pathsep):
            try:
                names.update(n for n in os.listdir(directory or ".") if pattern.fullmatch(n))
            except OSError:
                continue
        return sorted(names, key=lambda n: int(n.rsplit(".", 1)[1]), reverse=True)

    def _first_runnable(self, candidates: Iterable[str], wanted: tuple[int, ...] | None) -> str | None:
        for path in candidates:
            version = self._version(path)
            if version is not None and (wanted is None or _matches(version, wanted)):
                return path
        return None

    def _version(self, path: str) -> tuple[int, ...] | None:
        """What the candidate says it is when run; None (and the reason kept) when it cannot run."""
        try:
            proc = subprocess.run(
                [path, "-c", _ASK], capture_output=True, text=True, timeout=_PROBE_TIMEOUT, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.skipped.append(f"{path} ({'timed out' if isinstance(exc, subprocess.TimeoutExpired) else exc})")
            return None
        out = proc.stdout.strip()
        if proc.returncode != 0 or not re.fullmatch(r"\d+\.\d+\.\d+", out):
            lines = proc.stderr.strip().splitlines()
            self.skipped.append(f"{path} (exited {proc.returncode}: {lines[0] if lines else 'no output'})")
            return None
        return tuple(int(p) for p in out.split("."))


def _matches(version: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    return version[: len(wanted)] == wanted
