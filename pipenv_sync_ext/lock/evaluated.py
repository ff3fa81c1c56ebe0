"""Answers that depend only on values, kept in the store: marker results for an interpreter, and the like.

``<cache>/v1/plans/<kind>-<sha256 of key>.json`` holds ``{"key": ..., "value": ...}``.
:func:`recall` returns the value only when the recorded key equals the asked one
(a file copied under another name answers nothing) and the caller's check
accepts its shape; anything else is a miss, and the caller computes the answer
(with ``packaging``) and :func:`remember`\\ s it. Keys include the tool version,
so a new version's rules never meet an old answer.

Decision: written only once the sync succeeded (:func:`flush`, by the pipeline):
until then :func:`remember` and :func:`defer_write` hold the files in memory, so a
refused sync leaves nothing in the store but the artifacts it verified.

Decision: a marker's truth is cached per interpreter marker environment (the
probe's ``markers``), for the set of marker texts of the selected entries, so a
prune that installs nothing new imports no marker parser at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipenv_sync_ext import __version__
from pipenv_sync_ext.fsutil import read_private
from pipenv_sync_ext.lock.model import Entry

_MAX_BYTES = 4 * 1024 * 1024
_pending: dict[Path, bytes] = {}  # path -> content, written by flush()


def defer_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (atomically) when the run succeeds: :func:`flush`."""
    _pending[path] = data


def pending(path: Path) -> bytes | None:
    return _pending.get(path)


def flush() -> None:
    """Write what this run remembered (a read-only store: it is computed again next time)."""
    from pipenv_sync_ext.fsutil import atomic_write

    while _pending:
        path, data = _pending.popitem()
        with contextlib.suppress(OSError):
            atomic_write(path, data)


def discard() -> None:
    _pending.clear()


def _path(cache_dir: Path, kind: str, key: Any) -> Path:
    digest = hashlib.sha256(json.dumps([__version__, key], sort_keys=True).encode()).hexdigest()
    return cache_dir / "v1" / "plans" / f"{kind}-{digest}.json"


def recall(cache_dir: Path | None, kind: str, *, key: Any, valid: Callable[[Any], bool]) -> Any | None:
    """The remembered value for ``key``, when there is one and ``valid`` accepts it; else None."""
    if cache_dir is None:
        return None
    path = _path(cache_dir, kind, key)
    try:
        raw = pending(path)
        if raw is None:
            raw = read_private(path, _MAX_BYTES)  # a planted answer (another user's) is a miss
        data = json.loads(raw) if len(raw) <= _MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    # Compared as JSON sees them: a tuple in ``key`` is the list it was written as.
    if not isinstance(data, dict) or data.get("key") != json.loads(json.dumps(key)) or "value" not in data:
        return None
    value = data["value"]
    return value if valid(value) else None


def remember(cache_dir: Path | None, kind: str, *, key: Any, value: Any) -> None:
    if cache_dir is not None:
        defer_write(_path(cache_dir, kind, key), json.dumps({"key": key, "value": value}).encode())


def marker_results(
    cache_dir: Path | None, entries: Sequence[Entry], *, environment: Mapping[str, str], lock_label: str
) -> dict[str, bool]:
    """Each distinct marker of ``entries`` -> its truth for ``environment`` (an invalid one raises
    :class:`~pipenv_sync_ext.errors.LockError` naming its entry, as :func:`.markers.markers_true` does)."""
    texts = sorted({e.markers for e in entries if e.markers})
    if not texts:
        return {}
    key = {"environment": dict(environment), "markers": texts}

    def valid(value: Any) -> bool:
        return isinstance(value, dict) and sorted(value) == texts and all(type(v) is bool for v in value.values())

    known = recall(cache_dir, "markers", key=key, valid=valid)
    if known is not None:
        return dict(known)
    from pipenv_sync_ext.lock.markers import markers_true

    results: dict[str, bool] = {}
    for entry in entries:
        if entry.markers and entry.markers not in results:
            where = f"{lock_label}: [{entry.category}] {entry.name}"
            results[entry.markers] = markers_true(entry.markers, environment, where)
    remember(cache_dir, "markers", key=key, value=results)
    return results
