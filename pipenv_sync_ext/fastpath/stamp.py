"""The sync stamp: an O(1) answer to "is this venv still exactly what the last sync made?"

After a successful sync, ``<venv>/.pipenv-sync-stamp.json`` records everything the
result depended on: the lock's and Pipfile's bytes (sha256), the selection and
the options that shape the plan, the interpreter (its real path, the stat of its
binary and of ``pyvenv.cfg``, its version) and a fingerprint of the installed
distributions (each site directory's mtime and the name and mtime of every
``*.dist-info`` / ``*.egg-info`` / ``*.pth`` in it), and the build inputs of
local editable and path installs (:mod:`~pipenv_sync_ext.fastpath.buildinputs`). Installing or removing a
distribution by any tool changes a directory mtime; editing one rewrites its
metadata directory.

When every recorded value still holds, a repeat sync is a no-op that parses no
lock, reads no RECORD and starts no interpreter. Anything else (a missing or
unreadable stamp, any difference) falls back to the full plan, so the stamp can
only save work, never change an answer. Editing an installed file in place is
not seen here: that is what ``--verify`` is for.

This module is on the fast path: standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipenv_sync_ext import __version__
from pipenv_sync_ext.fastpath.identity import (
    FORMAT,
    STAMP_NAME,
    file_identity,
    fingerprint,
    interpreter_identity,
    left_beside,
)


@dataclass(frozen=True)
class Key:
    """What a sync's outcome depends on, apart from the venv's own state."""

    lock_sha256: str
    pipfile_sha256: str | None
    selection: tuple[str, ...]  # ("dev",) / ("categories", ...) / ("all",) / ()
    prune: bool
    keep: tuple[str, ...]
    deploy: bool
    allow_python_drift: bool


@dataclass(frozen=True)
class Stamp:
    key: Key
    venv: str
    lock: str
    lock_stat: tuple[int, ...] | None  # identity.file_identity: lets the fast path skip hashing
    pipfile_stat: tuple[int, ...] | None
    sections: tuple[str, ...]
    site_dirs: tuple[str, ...]
    interpreter: tuple[str, ...]  # identity: see identity.interpreter_identity()
    fingerprint: tuple[str, ...]
    packages: tuple[tuple[str, str], ...]  # (name, version) the sync left installed, for the report
    warnings: tuple[str, ...]  # what the sync said about its inputs; said again on a stamp hit
    inputs: tuple[tuple[str, bool, str | None], ...] = ()  # local (path, editable, build inputs fingerprint)
    tool: str = __version__
    format: int = FORMAT


def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def make_stamp(
    *,
    key: Key,
    venv: Path,
    lock: Path,
    pipfile: Path,
    sections: Sequence[str],
    site_dirs: Sequence[Path],
    packages: Iterable[tuple[str, str]],
    warnings: Sequence[str],
    inputs: Iterable[tuple[str, bool]] = (),
) -> Stamp:
    dirs = tuple(str(d) for d in site_dirs)
    return Stamp(
        key=key,
        venv=str(venv),
        lock=str(lock),
        lock_stat=_tuple(file_identity(str(lock))),
        pipfile_stat=_tuple(file_identity(str(pipfile))),
        sections=tuple(sections),
        site_dirs=dirs,
        interpreter=tuple(interpreter_identity(str(venv))),
        fingerprint=tuple(fingerprint(dirs)),
        packages=tuple(sorted(packages)),
        warnings=tuple(warnings),
        inputs=tuple((path, editable, fingerprint_of(path, editable)) for path, editable in inputs),
    )


def write(stamp: Stamp) -> None:
    from pipenv_sync_ext.fsutil import atomic_write

    atomic_write(Path(stamp.venv) / STAMP_NAME, json.dumps(asdict(stamp), indent=1).encode())


def remove(venv: Path) -> None:
    """Invalidate before changing the venv: a sync cut short must not leave a valid stamp."""
    with contextlib.suppress(FileNotFoundError):
        (venv / STAMP_NAME).unlink()


def read(venv: Path) -> Stamp | None:
    try:
        data: Any = json.loads((venv / STAMP_NAME).read_bytes())
        if data.get("format") != FORMAT or data.get("tool") != __version__:
            return None
        return Stamp(
            key=Key(
                **{**data["key"], "selection": tuple(data["key"]["selection"]), "keep": tuple(data["key"]["keep"])}
            ),
            venv=data["venv"],
            lock=data["lock"],
            lock_stat=_tuple(data["lock_stat"]),
            pipfile_stat=_tuple(data["pipfile_stat"]),
            sections=tuple(data["sections"]),
            site_dirs=tuple(data["site_dirs"]),
            interpreter=tuple(data["interpreter"]),
            fingerprint=tuple(data["fingerprint"]),
            packages=tuple((str(n), str(v)) for n, v in data["packages"]),
            warnings=tuple(data["warnings"]),
            inputs=tuple((str(p), bool(e), f) for p, e, f in data["inputs"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def still_valid(stamp: Stamp, key: Key, venv: Path) -> bool:
    """True only when nothing the last sync depended on has changed."""
    return (
        stamp.key == key
        and stamp.venv == str(venv)
        and stamp.interpreter == tuple(interpreter_identity(str(venv)))
        and stamp.fingerprint == tuple(fingerprint(stamp.site_dirs))
        and all(fingerprint_of(path, editable) == fp for path, editable, fp in stamp.inputs)
        and not left_beside(venv)
    )


def fingerprint_of(path: str, editable: bool) -> str | None:
    from pipenv_sync_ext.fastpath.buildinputs import fingerprint as build_inputs

    return build_inputs(Path(path), editable)


def _tuple(value: list[int] | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(value)
