"""The write-ahead list of an install: what it is about to write, so that a killed install can be undone.

An install stages its ``.dist-info`` as ``<name>.dist-info.pipenv-sync-partial``
and, before writing any file, appends the file's path to ``.pipenv-sync-written``
inside it. The next run's recovery (:mod:`~pipenv_sync_ext.install.journal`)
deletes the files listed as new, then the staged directory.

Decisions, because a wheel's author picks the names that end up in this list
and may even ship a ``*.pipenv-sync-partial`` directory of their own:

* The list is JSON, one object per line, written with ``ensure_ascii`` so that
  a name holding U+2028 (or any other line separator) is escaped and never
  splits a record; it is read back by splitting on ``\\n`` only. A torn last
  line (a kill mid-write) is ignored: its file was not written yet.
* Its first line carries the journal's random token (:func:`use_token`). A
  list whose token is not the current journal's was not written by this tool
  for this venv (a directory shipped inside a wheel, a stale copy) and is never
  acted on.
* Every path read back is confined to the venv (:func:`pipenv_sync_ext.confine.confine`)
  before anything is deleted; a path that is not is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path

from pipenv_sync_ext.fsutil import is_inside
from pipenv_sync_ext.install.removal import confined, prune_empty_dirs

PARTIAL_SUFFIX = ".pipenv-sync-partial"
MANIFEST = ".pipenv-sync-written"  # inside the partial dist-info: every path written, before it is written
_FORMAT = 1

_token = secrets.token_hex(16)  # replaced by the journal's own when a sync begins
_lock = threading.Lock()  # installs run in a thread pool; each appends to its own file, but the token is shared


def use_token(token: str) -> None:
    """Make ``token`` (the journal's) the one every write-ahead list written from now on carries."""
    global _token
    with _lock:
        _token = token


def current_token() -> str:
    with _lock:
        return _token


def append(staged: Path | str, entries: Iterable[tuple[bool, str]]) -> None:
    """Record ``(existed, path)`` pairs before they are written; the header goes first in a new list.

    ``existed``: the path was there before, so it belongs to someone else too and an
    undo never removes it.
    """
    manifest = os.path.join(staged, MANIFEST)
    lines = []
    if not os.path.exists(manifest):
        lines.append(json.dumps({"format": _FORMAT, "token": current_token()}))
    lines += [json.dumps({"path": os.fspath(path), "existed": bool(existed)}) for existed, path in entries]
    with open(manifest, "a", encoding="ascii") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()


def read(staged: Path) -> tuple[str | None, list[tuple[bool, str]]]:
    """The token and the entries of a write-ahead list (``(None, [])`` when it is absent or unreadable)."""
    try:
        data = (staged / MANIFEST).read_bytes()
    except OSError:
        return None, []
    token: str | None = None
    entries: list[tuple[bool, str]] = []
    for number, raw in enumerate(data.split(b"\n")):
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a torn last line, or not ours at all
        if not isinstance(record, dict):
            continue
        if number == 0:
            token = record.get("token") if isinstance(record.get("token"), str) else None
            continue
        path, existed = record.get("path"), record.get("existed")
        if isinstance(path, str) and isinstance(existed, bool):
            entries.append((existed, path))
    return token, entries


def partial_installs(site_dirs: Iterable[Path]) -> list[Path]:
    """Staged metadata directories of installs that never finished (a killed sync), trusted or not."""
    found = []
    for site in site_dirs:
        try:
            found += [site / n for n in os.listdir(site) if n.endswith(".dist-info" + PARTIAL_SUFFIX)]
        except OSError:
            continue
    return found


def undo_partial(staged: Path, stop_at: set[Path], *, root: Path | None = None, token: str | None = None) -> bool:
    """Remove the files an unfinished install wrote (per its write-ahead list), then its staged metadata.

    ``root``: the venv; every listed path must lie under it (default: the directory
    the scheme directories ``stop_at`` share). ``token``: the journal's; a list
    carrying another is not acted on at all (False). Without one, the current
    process's token is expected: the undo of an install this run just made.
    """
    found, entries = read(staged)
    if found is None or found != (token if token is not None else current_token()):
        with contextlib.suppress(OSError):
            staged.rmdir()  # an install that failed before its first record: empty, nothing to trust
        return False
    if root is None:
        root = Path(os.path.commonpath([os.path.abspath(p) for p in stop_at])) if stop_at else staged.parent
    dirs: set[Path] = set()
    for existed, path in entries:
        target = confined(path, root)
        if existed or target is None or is_inside(target, staged):
            continue
        try:
            target.unlink()
        except FileNotFoundError:
            pass  # not written yet; its directory may have been made already
        except OSError:
            continue
        dirs.add(target.parent)
    shutil.rmtree(staged, ignore_errors=True)
    prune_empty_dirs(dirs, stop_at)
    return True
