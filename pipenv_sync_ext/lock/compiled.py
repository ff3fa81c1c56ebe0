"""The validated lock, compiled: kept in the store so a repeat run skips plette, tomlkit and packaging.

``<cache>/v1/plans/<key>.json``, where ``key`` is the sha256 of every input that
decides the answer (:func:`key_inputs`): this format's number, the tool's
version, the lock's path and sha256, the Pipfile's path and sha256 (its markers
and categories shape the selection), the other lock format's file beside it
(its disagreement is a warning), and the selection (``--dev``,
``--categories``, ``--all``). The entry holds the selected lock (Pipfile
markers restored, empty sections added), the sections in install order, the
warnings loading said, and whether ``_meta.hash`` matched the Pipfile.

Decisions:

* **Never trusted.** It is the venv owner's cache, but a corrupt, truncated or
  edited entry must not change what is installed. Loading (standard library
  only) checks every field's type, that the recorded inputs are the run's, and
  that the lock it holds is exactly what these lock bytes read as
  (:func:`~pipenv_sync_ext.lock.pipfile_lock.parse_lock` with ``checked``: the
  same reader without plette and without ``packaging``'s marker and version
  parses): a package the lock lacks, a changed hash or pin is a miss. Only the
  Pipfile markers of hash-less entries are taken from the entry (the Pipfile's
  sha256 is in the key). A miss falls back to the full path, which rewrites it.
* **Written only when it would load.** The entry is checked with the very test
  :func:`load` applies before it is written, so the two readers can only
  disagree by not caching, never by caching a different lock.
* **Pipfile.lock only.** A ``pylock.toml`` names files and directories the
  lock's reader resolves; it takes the full path every time.
* **Freshness** is cached only when the Pipfile names its own ``[[source]]``:
  without one, pipenv's hash takes default sources from pip's configuration,
  which the key does not cover, so it is computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipenv_sync_ext import __version__
from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.fastpath.lockchoice import is_pylock, other_format
from pipenv_sync_ext.fsutil import read_private
from pipenv_sync_ext.lock.model import Entry, Lock, LockedPackage, OtherEntry, Source
from pipenv_sync_ext.lock.schema import MAX_FILE_BYTES

FORMAT = 1
_MAX_ENTRY_BYTES = 2 * MAX_FILE_BYTES  # an entry is about the size of its lock; more is not one of ours


@dataclass(frozen=True)
class Compiled:
    lock: Lock  # as the run sees it: Pipfile markers restored, empty sections for Pipfile categories
    sections: tuple[str, ...]  # install order
    notes: tuple[str, ...]  # warnings said while loading (the other lock format disagrees)
    fresh: bool | None  # _meta.hash matches the Pipfile; None: not known from the cache


def _sha256_of(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read(MAX_FILE_BYTES + 1)).hexdigest()
    except OSError:
        return None


def key_inputs(
    lock_path: Path, lock_sha256: str, *, pipfile: Path | None, pipfile_sha256: str | None, selection: Sequence[str]
) -> dict[str, Any]:
    """What the compiled lock depends on (module docstring), as the entry records it."""
    other = other_format(str(lock_path.parent), str(lock_path))
    return {
        "format": FORMAT,
        "tool": __version__,
        "lock": [os.path.abspath(lock_path), lock_sha256],
        "pipfile": [os.path.abspath(pipfile), pipfile_sha256] if pipfile is not None else None,
        "other": [other, _sha256_of(other)] if other is not None else None,
        "selection": list(selection),
    }


def entry_path(cache_dir: Path, inputs: Mapping[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return cache_dir / "v1" / "plans" / f"{digest}.json"


def load(cache_dir: Path, inputs: Mapping[str, Any], lock_path: Path) -> Compiled | None:
    """The compiled lock for ``inputs``, or None when there is none or it does not check out."""
    if is_pylock(str(lock_path)):
        return None
    try:
        raw = read_private(entry_path(cache_dir, inputs), _MAX_ENTRY_BYTES)
        if len(raw) > _MAX_ENTRY_BYTES:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("key") != inputs:
            return None
        compiled = _decode(data, lock_path)
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    return compiled if _matches_lock(compiled, inputs) else None


def save(cache_dir: Path, inputs: Mapping[str, Any], compiled: Compiled) -> bool:
    """Write the entry (atomically, once the sync succeeded: :func:`.evaluated.flush`) when it would
    load as ``compiled``; False when it is not cached."""
    if is_pylock(str(compiled.lock.path)) or compiled.lock.content_sha256 != inputs["lock"][1]:
        return False  # the lock changed between its hash and its reading: the next run compiles it
    if not _matches_lock(compiled, inputs):
        return False
    from pipenv_sync_ext.lock.evaluated import defer_write

    defer_write(entry_path(cache_dir, inputs), json.dumps({"key": inputs, **_encode(compiled)}).encode())
    return True


def _matches_lock(compiled: Compiled, inputs: Mapping[str, Any]) -> bool:
    """Is ``compiled.lock`` exactly what the lock file's bytes read as (with the cached Pipfile markers)?"""
    from pipenv_sync_ext.lock.pipfile import PipfileView, with_pipfile_markers
    from pipenv_sync_ext.lock.pipfile_lock import parse_lock
    from pipenv_sync_ext.lock.schema import parse_json_bytes, read_capped

    lock = compiled.lock
    try:
        raw = read_capped(lock.path)
        if hashlib.sha256(raw).hexdigest() != inputs["lock"][1]:
            return False
        fresh = parse_lock(parse_json_bytes(raw, lock.path), lock.path, content_sha256=inputs["lock"][1], checked=True)
    except LockError:
        return False
    markers = {
        (section, e.name): e.markers
        for section, entries in lock.sections.items()
        for e in entries
        if isinstance(e, OtherEntry) and e.kind == "unpinned" and e.markers
    }
    fresh = with_pipfile_markers(fresh, PipfileView(lock.path, (), markers))
    extra = {s: e for s, e in lock.sections.items() if s not in fresh.sections}
    if any(extra.values()) or any(s not in lock.sections for s in compiled.sections):
        return False  # only empty sections are added (for Pipfile categories the lock lacks)
    if not _selected_as_asked(compiled.sections, inputs["selection"]):
        return False
    return fresh == Lock(
        path=lock.path,
        content_sha256=lock.content_sha256,
        pipfile_sha256=lock.pipfile_sha256,
        requires=lock.requires,
        sources=lock.sources,
        sections={s: e for s, e in lock.sections.items() if s not in extra},
        find_links=lock.find_links,
        urls=lock.urls,
    )


def _selected_as_asked(sections: Sequence[str], selection: Sequence[str]) -> bool:
    """Are ``sections`` what the selection picks (``lock/selection.py``)? A section dropped from an
    entry would make ``--prune`` remove its packages. ``--all`` follows the Pipfile's categories,
    which only its full reading knows: such an entry is never taken on trust, it is compiled again."""
    from pipenv_sync_ext.lock.pipfile import PIPFILE_TO_LOCK

    if not selection:
        return tuple(sections) == ("default",)
    if list(selection) == ["dev"]:
        return tuple(sections) == ("default", "develop")
    if selection[0] == "categories":
        chosen = [PIPFILE_TO_LOCK.get(c, c) for c in selection[1:]]
        return tuple(sections) == tuple(reversed(dict.fromkeys(reversed(chosen))))
    return False


def _encode(compiled: Compiled) -> dict[str, Any]:
    lock = compiled.lock
    return {
        "lock": {
            "content_sha256": lock.content_sha256,
            "pipfile_sha256": lock.pipfile_sha256,
            "requires": dict(lock.requires),
            "sources": [[s.name, s.url, s.verify_ssl] for s in lock.sources],
            "sections": {name: [_encode_entry(e) for e in entries] for name, entries in lock.sections.items()},
        },
        "sections": list(compiled.sections),
        "notes": list(compiled.notes),
        "fresh": compiled.fresh,
    }


def _encode_entry(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, LockedPackage):
        return {
            "package": [entry.name, entry.version, entry.category, entry.markers, entry.index],
            "hashes": sorted(entry.hashes),
            "extras": list(entry.extras),
        }
    return {
        "other": [entry.name, entry.kind, entry.category, entry.source, entry.version, entry.markers],
        "direct": [entry.editable, entry.target, entry.ref, entry.subdirectory],
        "hashes": sorted(entry.hashes),
        "extras": list(entry.extras),
    }


class _Bad(ValueError):
    """A field of the wrong type: the entry is ignored."""


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(type(value).__name__)
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(type(value).__name__)
    return value


def _list(value: Any, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise _Bad("not a list of the expected length")
    return value


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(_str(v) for v in _list(value))


def _decode(data: Mapping[str, Any], lock_path: Path) -> Compiled:
    lock_data = data["lock"]
    if not isinstance(lock_data, dict) or not isinstance(lock_data["sections"], dict):
        raise _Bad("lock")
    requires = lock_data["requires"]
    if not isinstance(requires, dict):
        raise _Bad("requires")
    sources = tuple(
        Source(_str(name), _str(url), _bool(verify))
        for name, url, verify in (_list(s, 3) for s in _list(lock_data["sources"]))
    )
    lock = Lock(
        path=lock_path,
        content_sha256=_str(lock_data["content_sha256"]),
        pipfile_sha256=_opt_str(lock_data["pipfile_sha256"]),
        requires={_str(k): _str(v) for k, v in requires.items()},
        sources=sources,
        sections={
            _str(name): tuple(_decode_entry(e) for e in _list(entries))
            for name, entries in lock_data["sections"].items()
        },
    )
    fresh = data["fresh"]
    return Compiled(
        lock=lock,
        sections=_strs(data["sections"]),
        notes=_strs(data["notes"]),
        fresh=None if fresh is None else _bool(fresh),
    )


def _decode_entry(raw: Any) -> Entry:
    if not isinstance(raw, dict):
        raise _Bad("entry")
    hashes, extras = frozenset(_strs(raw["hashes"])), _strs(raw["extras"])
    if "package" in raw:
        name, version, category, markers, index = _list(raw["package"], 5)
        return LockedPackage(
            name=_str(name),
            version=_str(version),
            hashes=hashes,
            category=_str(category),
            markers=_opt_str(markers),
            extras=extras,
            index=_opt_str(index),
        )
    name, kind, category, source, version, markers = _list(raw["other"], 6)
    editable, target, ref, subdirectory = _list(raw["direct"], 4)
    return OtherEntry(
        name=_str(name),
        kind=_str(kind),
        category=_str(category),
        source=_str(source),
        version=_opt_str(version),
        markers=_opt_str(markers),
        editable=_bool(editable),
        target=_str(target),
        ref=_opt_str(ref),
        subdirectory=_opt_str(subdirectory),
        hashes=hashes,
        extras=extras,
    )
