"""pip's HTTP cache as a read-only source of artifacts, matched by sha256 only.

pip (and pipenv, which runs pip with ``PIPENV_CACHE_DIR`` as its cache) keeps
every downloaded file in an HTTP cache (CacheControl's ``FileCache`` layout:
``<root>/<a>/<b>/<c>/<d>/<e>/<sha224 of the URL>``):

* ``http-v2/`` (pip >= 23.3): the response metadata in the file named by the
  key, the body as is beside it in ``<key>.body``;
* ``http/`` (older pip): one file, ``cc=4,`` and a msgpack map whose
  ``response.body`` holds the body.

Neither keeps the URL (only its hash names the entry) nor the file name, so a
body is recognised by what it is: a wheel (a zip with one top-level
``*.dist-info/WHEEL``) gives its project, version and tags, and from those the
wheel's file name. Bodies that are not wheels (index pages, sdists) are not
used. A body is read this way once and hashed only when it is a version the
lock pins; both answers are remembered in ``<store>/v1/pip-cache-index.json``
keyed by path, size and mtime, so later runs only ``stat`` the cache. A body
whose sha256 the lock allows is copied into the store.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.fsutil import atomic_write, sha256_stream
from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.store.artifact import project_of
from pipenv_sync_ext.store.cas import Store

INDEX_FORMAT = 1
_LEGACY_PREFIX = b"cc=4,"
_ZIP_MAGIC = b"PK\x03\x04"
_DIST_INFO_WHEEL = re.compile(r"^([^/]+)-([^/-]+)\.dist-info/WHEEL$")
_KEY = re.compile(r"^[0-9a-f]{56}$")  # CacheControl names an entry by the sha224 of its URL


@dataclass
class _Entry:
    path: str
    legacy: bool  # an ``http/`` entry (body inside a msgpack map)
    size: int
    mtime_ns: int
    filename: str | None  # the wheel's file name, rebuilt from its dist-info; None: not a wheel
    sha256: str | None  # computed only when needed

    def to_json(self) -> list[Any]:
        return [self.size, self.mtime_ns, self.filename, self.sha256]


class PipCache:
    """Lazily scanned: nothing is read until the first :meth:`import_into`."""

    def __init__(self, roots: Iterable[Path], index_path: Path, warn: Say) -> None:
        self.roots = list(roots)
        self._index_path = index_path
        self._warn = warn
        self._by_project: dict[str, list[_Entry]] | None = None
        self._entries: dict[str, _Entry] = {}
        self._dirty = False
        self.read = 0  # bodies read or hashed in this run (what the index saves the next run)

    @classmethod
    def default(cls, cache_dir: Path, warn: Say) -> PipCache:
        from pipenv_sync_ext.store.pipconfig import http_cache_dirs

        return cls(http_cache_dirs(), cache_dir / "v1" / "pip-cache-index.json", warn)

    def import_into(self, store: Store, package: LockedPackage, allowed: frozenset[str] | None = None) -> int:
        """Copy every cached wheel of ``package`` whose sha256 is allowed into ``store``; how many were."""
        allowed = package.hashes if allowed is None else allowed
        copied = 0
        for entry in self._scan().get(package.name, []):
            parsed = project_of(entry.filename or "")
            if parsed is None or not _same_version(parsed[1], package.version):
                continue
            if entry.sha256 is None:
                try:
                    with _open_body(entry) as body:
                        entry.sha256 = sha256_stream(body)
                except (OSError, ValueError):
                    continue
                self.read += 1
                self._dirty = True
            if entry.sha256 not in allowed or store.get(entry.sha256) is not None:
                continue
            try:
                with _open_body(entry) as body:
                    store.add_stream(
                        body,
                        filename=entry.filename or "",
                        sha256=entry.sha256,
                        label=f"pip's cache entry {entry.path}",
                    )
            except (OSError, ValueError) as exc:
                self._warn(f"{entry.path}: pip's cache entry could not be copied: {exc}")
                continue
            copied += 1
        self.save()
        return copied

    def save(self) -> None:
        if not self._dirty:
            return
        data = {"format": INDEX_FORMAT, "entries": {p: e.to_json() for p, e in self._entries.items()}}
        try:
            atomic_write(self._index_path, json.dumps(data, separators=(",", ":")).encode())
        except OSError:
            return  # a read-only store: the index is an optimisation only
        self._dirty = False

    def _load_index(self) -> dict[str, list[Any]]:
        try:
            data = json.loads(self._index_path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def _scan(self) -> dict[str, list[_Entry]]:
        if self._by_project is not None:
            return self._by_project
        known = self._load_index()
        by_project: dict[str, list[_Entry]] = {}
        for path, legacy, st in self._files():
            old = known.get(path)
            if isinstance(old, list) and len(old) == 4 and old[:2] == [st.st_size, st.st_mtime_ns]:
                entry = _Entry(path, legacy, st.st_size, st.st_mtime_ns, old[2], old[3])
            else:
                entry = _Entry(path, legacy, st.st_size, st.st_mtime_ns, _wheel_filename(path, legacy), None)
                self.read += 1
                self._dirty = True
            self._entries[path] = entry
            parsed = project_of(entry.filename or "")
            if parsed is not None:
                by_project.setdefault(parsed[0], []).append(entry)
        if set(known) - set(self._entries):
            self._dirty = True  # entries pip has since evicted: forget them
        self._by_project = by_project
        self.save()
        return by_project

    def _files(self) -> Iterator[tuple[str, bool, os.stat_result]]:
        for root in self.roots:
            for sub, legacy in (("http-v2", False), ("http", True)):
                for dirpath, _dirs, files in os.walk(root / sub):
                    for name in files:
                        key = name if legacy else name.removesuffix(".body")
                        if not _KEY.match(key) or (not legacy and key == name):
                            continue  # pip's temporary files, or metadata (v2 keeps the body apart)
                        if not legacy and not os.path.exists(os.path.join(dirpath, key)):
                            continue  # a body without its metadata may be half of an entry being written
                        path = os.path.join(dirpath, name)
                        try:
                            st = os.stat(path)
                        except OSError:
                            continue
                        yield path, legacy, st


@contextmanager
def _open_body(entry: _Entry) -> Iterator[BinaryIO]:
    if not entry.legacy:
        with open(entry.path, "rb") as f:
            yield f
        return
    body = _legacy_body(Path(entry.path).read_bytes())
    if body is None:
        raise ValueError("not a cachecontrol v4 entry")
    yield io.BytesIO(body)


def _wheel_filename(path: str, legacy: bool) -> str | None:
    """The file name of the wheel this cache body is, from its own dist-info; None if it is not one."""
    try:
        if legacy:
            body = _legacy_body(Path(path).read_bytes())
            if body is None or not body.startswith(_ZIP_MAGIC):
                return None
            return _name_from_wheel(zipfile.ZipFile(io.BytesIO(body)))
        with open(path, "rb") as f:
            if f.read(4) != _ZIP_MAGIC:
                return None
            f.seek(0)
            return _name_from_wheel(zipfile.ZipFile(f))
    except (OSError, ValueError, zipfile.BadZipFile, KeyError, UnicodeDecodeError, EOFError):
        return None


def _name_from_wheel(archive: zipfile.ZipFile) -> str | None:
    found = [(m, n) for n in archive.namelist() if (m := _DIST_INFO_WHEEL.match(n))]
    if len(found) != 1:
        return None
    match, member = found[0]
    name, version = match.group(1), match.group(2)
    tags: list[tuple[str, str, str]] = []
    build = None
    for line in archive.read(member).decode("utf-8").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "tag":
            parts = value.strip().split("-")
            if len(parts) == 3:
                tags.append((parts[0], parts[1], parts[2]))
        elif key.strip().lower() == "build":
            build = value.strip()
    pythons, abis, platforms = (list(dict.fromkeys(t[i] for t in tags)) for i in range(3))
    # A file name can only say "every combination of these": use it only when that is what WHEEL says.
    if not tags or len(set(tags)) != len(pythons) * len(abis) * len(platforms):
        return None
    parts = [re.sub(r"[-_.]+", "_", name), version]
    if build:
        parts.append(build)
    parts += [".".join(pythons), ".".join(abis), ".".join(platforms)]
    filename = "-".join(parts) + ".whl"
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename  # only for a hit in pip's cache

    try:
        parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return filename


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


# --- the old ``http/`` format: "cc=4," + msgpack ----------------------------------------------


def _legacy_body(data: bytes) -> bytes | None:
    if not data.startswith(_LEGACY_PREFIX):
        return None  # "cc=2," (pickle) and older: never unpickled
    try:
        value, _end = _unpack(data, len(_LEGACY_PREFIX))
    except (IndexError, ValueError, struct.error, UnicodeDecodeError):
        return None
    response = value.get("response") if isinstance(value, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    return body if isinstance(body, bytes) else None


def _unpack(data: bytes, pos: int) -> tuple[Any, int]:
    """Decode the one msgpack value at ``pos`` (the subset CacheControl writes); (value, next pos)."""
    b = data[pos]
    pos += 1
    if b <= 0x7F:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0x80 <= b <= 0x8F:
        return _unpack_map(data, pos, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return _unpack_array(data, pos, b & 0x0F)
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return data[pos : pos + n].decode("utf-8"), pos + n
    sized = {0xC4: (1, bytes), 0xC5: (2, bytes), 0xC6: (4, bytes), 0xD9: (1, str), 0xDA: (2, str), 0xDB: (4, str)}
    if b in sized:
        width, kind = sized[b]
        n = int.from_bytes(data[pos : pos + width], "big")
        pos += width
        raw = data[pos : pos + n]
        if len(raw) != n:
            raise ValueError("truncated msgpack")
        return (raw if kind is bytes else raw.decode("utf-8")), pos + n
    fixed = {
        0xCA: ">f",
        0xCB: ">d",
        0xCC: ">B",
        0xCD: ">H",
        0xCE: ">I",
        0xCF: ">Q",
        0xD0: ">b",
        0xD1: ">h",
        0xD2: ">i",
        0xD3: ">q",
    }
    if b in fixed:
        fmt = fixed[b]
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, data[pos : pos + size])[0], pos + size
    if b == 0xC0:
        return None, pos
    if b in (0xC2, 0xC3):
        return b == 0xC3, pos
    if b in (0xDC, 0xDD):
        width = 2 if b == 0xDC else 4
        return _unpack_array(data, pos + width, int.from_bytes(data[pos : pos + width], "big"))
    if b in (0xDE, 0xDF):
        width = 2 if b == 0xDE else 4
        return _unpack_map(data, pos + width, int.from_bytes(data[pos : pos + width], "big"))
    raise ValueError(f"unsupported msgpack type 0x{b:02x}")


def _unpack_map(data: bytes, pos: int, n: int) -> tuple[dict[Any, Any], int]:
    result: dict[Any, Any] = {}
    for _ in range(n):
        key, pos = _unpack(data, pos)
        value, pos = _unpack(data, pos)
        result[key] = value
    return result, pos


def _unpack_array(data: bytes, pos: int, n: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    for _ in range(n):
        item, pos = _unpack(data, pos)
        items.append(item)
    return items, pos
