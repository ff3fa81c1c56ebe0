"""Read Pipfile.lock into the lock's value objects (:mod:`.model`).

Every entry of every section becomes either a :class:`LockedPackage` (an index
package pinned with ``==`` and sha256 hashes: the only kind this engine installs
from its store) or an :class:`OtherEntry` (editable, path, file, VCS, ``"*"`` or
hash-less pins), which is kept in the plan as its own kind and never silently
dropped.

Validation goes through plette's ``Lockfile`` schema first, then through the
stricter checks below, so that each error names the file, section and package.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.model import Entry, Lock, LockedPackage, OtherEntry, Source

_SHA256 = re.compile(r"^sha256:([0-9a-f]{64})$")
_PIN = re.compile(r"^===?\s*([^\s,;=<>!~*]+)\s*$")
_VCS_KEYS = ("git", "hg", "svn", "bzr")
# The keys of packaging.markers.default_environment(): a Pipfile entry's shorthand marker keys.
SHORTHAND_KEYS = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
)


def load_lock(path: Path) -> Lock:
    """Parse and validate ``path``; raise :class:`LockError` naming what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LockError(f"{path}: not found (run `pipenv lock` first)") from None
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: not valid JSON: {exc}") from None
    return parse_lock(data, path, hashlib.sha256(raw).hexdigest())


def parse_lock(data: Any, path: Path, content_sha256: str = "") -> Lock:
    if not isinstance(data, dict):
        raise LockError(f"{path}: the top level must be a JSON object")
    meta = data.get("_meta")
    if not isinstance(meta, dict):
        raise LockError(f"{path}: [_meta] is missing; this is not a Pipfile.lock")
    _check_structure(data, meta, path)
    _plette_validate(data, path)

    hash_table = meta.get("hash") or {}
    pipfile_hash = hash_table.get("sha256")
    requires = meta.get("requires") or {}
    sources = tuple(_parse_source(s, path, i) for i, s in enumerate(meta.get("sources") or ()))
    sections: dict[str, tuple[Entry, ...]] = {}
    for section, entries in data.items():
        if section == "_meta":
            continue
        sections[section] = tuple(
            parse_entry(name, spec, section=section, path=path, source_names={s.name for s in sources})
            for name, spec in entries.items()
        )
    for required in ("default", "develop"):
        sections.setdefault(required, ())
    return Lock(
        path=path,
        content_sha256=content_sha256,
        pipfile_sha256=pipfile_hash if isinstance(pipfile_hash, str) else None,
        requires={str(k): str(v) for k, v in requires.items()},
        sources=sources,
        sections=sections,
    )


def _check_structure(data: dict[str, Any], meta: dict[str, Any], path: Path) -> None:
    """The shape checks whose plette messages would not say where (run before plette)."""
    for key, kind, name in (("hash", dict, "an object"), ("requires", dict, "an object"), ("sources", list, "a list")):
        value = meta.get(key)
        if value is not None and not isinstance(value, kind):
            raise LockError(f"{path}: [_meta] {key} must be {name}, not {type(value).__name__}")
    for section, entries in data.items():
        if section != "_meta" and not isinstance(entries, dict):
            raise LockError(f"{path}: [{section}] must be an object of packages, not {type(entries).__name__}")


def _plette_validate(data: dict[str, Any], path: Path) -> None:
    # plette is the reference schema for Pipfile.lock; its messages do not say
    # where, so ours wrap them with the file name.
    import plette

    data = dict(data)
    data.setdefault("default", {})
    data.setdefault("develop", {})
    try:
        plette.Lockfile(data)
    except Exception as exc:  # plette raises ValueError subclasses and TypeError
        raise LockError(f"{path}: invalid Pipfile.lock: {exc}") from None


def _parse_source(raw: Any, path: Path, index: int) -> Source:
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise LockError(f"{path}: [_meta] sources[{index}] needs a url")
    name = raw.get("name")
    return Source(
        name=str(name) if name else f"source{index}",
        url=raw["url"],
        verify_ssl=bool(raw.get("verify_ssl", True)),
    )


def parse_entry(
    name: str, spec: Any, *, section: str, path: Path, source_names: set[str] | frozenset[str] = frozenset()
) -> Entry:
    where = f"{path}: [{section}] {name}"
    if not isinstance(spec, dict):
        raise LockError(f"{where}: entry must be an object")
    canonical = canonicalize_name(name)
    markers = entry_markers(spec, where)

    version_raw = spec.get("version")
    pinned = _parse_pin(version_raw, where)

    other_kind, other_source = _other_kind(spec)
    if other_kind:
        return _direct_entry(canonical, other_kind, section, other_source, pinned, markers, spec, where)

    hashes = _hashes(spec, where)
    if pinned is None or not hashes:
        text = version_raw if isinstance(version_raw, str) else "no version"
        reason = f"{text}, no hashes" if not hashes else text
        return OtherEntry(canonical, "unpinned", section, reason, pinned, markers)

    index = spec.get("index")
    if index is not None and source_names and index not in source_names:
        raise LockError(
            f"{where}: index {index!r} is not one of the lock's sources ({', '.join(sorted(source_names))})"
        )
    return LockedPackage(
        name=canonical,
        version=pinned,
        hashes=hashes,
        category=section,
        markers=markers,
        extras=_extras(spec, where),
        index=index,
    )


def _parse_pin(version: Any, where: str) -> str | None:
    if version is None or version == "*":
        return None
    if not isinstance(version, str):
        raise LockError(f"{where}: version must be a string like '==1.2.3'")
    match = _PIN.match(version)
    if not match:
        raise LockError(f"{where}: version {version!r} is not an exact pin '==X'")
    from packaging.version import InvalidVersion, Version

    try:
        Version(match.group(1))
    except InvalidVersion:
        raise LockError(f"{where}: version {version!r} is not a valid version") from None
    return match.group(1)


def _parse_hash(value: Any, where: str) -> str:
    match = _SHA256.match(value.strip().lower()) if isinstance(value, str) else None
    if not match:
        raise LockError(f"{where}: hash {value!r} is not 'sha256:<64 hex digits>'")
    return match.group(1)


def entry_markers(spec: Mapping[str, Any], where: str) -> str | None:
    """The entry's marker: ``markers``, the legacy ``os_markers`` and every shorthand key, ANDed.

    A Pipfile may say ``pywin32 = {version = "*", os_name = "== 'nt'"}``: each of
    the eleven PEP 508 environment names (:data:`SHORTHAND_KEYS`, the keys of
    ``packaging.markers.default_environment()``) is a marker ``f"{key} {value}"``,
    as pipenv's ``translate_markers`` reads them when it locks. Some locks keep
    such keys in the entry (pipenv copies a Pipfile entry it skipped as "not for
    this platform"); pipenv's sync ignores them there and installs the entry
    anyway, this reader does not.
    """
    terms: list[str] = []
    for key in ("markers", "os_markers", *SHORTHAND_KEYS):
        value = spec.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise LockError(f"{where}: {key} must be a string")
        term = value if key in ("markers", "os_markers") else f"{key} {value}"
        _check_marker(term, key, where)
        terms.append(term)
    if len(terms) <= 1:
        return terms[0] if terms else None
    return " and ".join(f"({t})" for t in terms)


def _check_marker(markers: str, key: str, where: str) -> None:
    from packaging.markers import InvalidMarker, Marker

    try:
        Marker(markers)
    except InvalidMarker as exc:
        first = (str(exc).splitlines() or ["invalid"])[0]
        what = "markers" if key == "markers" else f"{key} (a marker)"
        raise LockError(f"{where}: invalid {what} {markers!r}: {first}") from None


def _hashes(spec: Mapping[str, Any], where: str) -> frozenset[str]:
    raw = spec.get("hashes") or []
    if not isinstance(raw, list):
        raise LockError(f"{where}: hashes must be a list")
    return frozenset(_parse_hash(h, where) for h in raw)


def _extras(spec: Mapping[str, Any], where: str) -> tuple[str, ...]:
    raw = spec.get("extras") or []
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise LockError(f"{where}: extras must be a list of names")
    return tuple(sorted(canonicalize_name(e) for e in raw))


def _direct_entry(
    name: str,
    kind: str,
    section: str,
    source: str,
    pinned: str | None,
    markers: str | None,
    spec: Mapping[str, Any],
    where: str,
) -> OtherEntry:
    target = next((spec[k] for k in (*_VCS_KEYS, "path", "file") if k in spec), "")
    ref, subdirectory = spec.get("ref"), spec.get("subdirectory")
    for key, value in (("target", target), ("ref", ref), ("subdirectory", subdirectory)):
        if value is not None and not isinstance(value, str):
            raise LockError(f"{where}: {key} must be a string")
    return OtherEntry(
        name=name,
        kind=kind,
        category=section,
        source=source,
        version=pinned,
        markers=markers,
        editable=bool(spec.get("editable")),
        target=target,
        ref=ref or None,
        subdirectory=subdirectory or None,
        hashes=_hashes(spec, where),
        extras=_extras(spec, where),
    )


def _other_kind(spec: Mapping[str, Any]) -> tuple[str | None, str]:
    for vcs in _VCS_KEYS:
        if vcs in spec:
            ref = spec.get("ref")
            return "vcs", f"{vcs}+{spec[vcs]}" + (f"@{ref}" if ref else "")
    if spec.get("editable"):
        return "editable", str(spec.get("path") or spec.get("file") or "")
    if "path" in spec:
        return "path", str(spec["path"])
    if "file" in spec:
        return "file", str(spec["file"])
    return None, ""
