"""Read Pipfile.lock into the lock's value objects (:mod:`.model`).

Every entry of every section becomes either a :class:`LockedPackage` (an index
package pinned with ``==`` and sha256 hashes: the only kind this engine installs
from its store) or an :class:`OtherEntry` (editable, path, file, VCS, ``"*"`` or
hash-less pins), which is kept in the plan as its own kind and never silently
dropped.

Validation goes through :mod:`.schema` (bounded load, every known field's type
and size), plette's ``Lockfile`` schema, then the stricter checks below, so that
each error names the file, section and package.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.model import Entry, Lock, LockedPackage, OtherEntry, Source
from pipenv_sync_ext.lock.names import canonical_name as canonicalize_name
from pipenv_sync_ext.lock.schema import (
    NAME_CHARS,
    TEXT_CHARS,
    URL_KEYS,
    VERSION_CHARS,
    Where,
    check_depth,
    check_str,
    check_url,
    opt_bool,
    opt_str,
    parse_json_bytes,
    read_capped,
    sha256_set,
    shown,
    str_list,
    table_of,
    type_name,
)

_PIN = re.compile(r"^===?\s*([^\s,;=<>!~*]+)\s*$")
_VCS_KEYS = ("git", "hg", "svn", "bzr")
_TEXT_KEYS = (*_VCS_KEYS, "path", "file", "ref", "subdirectory")
_PYTHON_KEYS = ("python_version", "python_full_version")
MARKER_CHARS = 4096  # a real lock's longest marker is under 200; packaging's parser recurses per parenthesis
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
    """Parse and validate ``path``; raise :class:`LockError` naming what is wrong.

    The bytes are read once (at most :data:`.schema.MAX_FILE_BYTES`), parsed within
    the schema's limits and hashed: the lock's identity is of exactly the bytes
    that were validated.
    """
    raw = read_capped(path, hint=" (run `pipenv lock` first)")
    return parse_lock(parse_json_bytes(raw, path), path, content_sha256=hashlib.sha256(raw).hexdigest())


def parse_lock(data: Any, path: Path, *, content_sha256: str = "", checked: bool = False) -> Lock:
    """``checked``: these very bytes passed every check before (the compiled lock, :mod:`.compiled`,
    says so): read them without plette and without parsing markers and versions with ``packaging``."""
    where = Where(path)
    if not isinstance(data, dict):
        raise LockError(f"{path}: the top level must be a JSON object")
    check_depth(data, where)
    meta = data.get("_meta")
    if not isinstance(meta, dict):
        raise LockError(f"{path}: [_meta] is missing; this is not a Pipfile.lock")
    _check_structure(data, meta, path)

    hash_table = meta.get("hash") or {}
    pipfile_hash = hash_table.get("sha256")
    sources = tuple(_parse_source(s, path, i) for i, s in enumerate(meta.get("sources") or ()))
    source_names = {s.name for s in sources}
    sections: dict[str, tuple[Entry, ...]] = {}
    for section, entries in data.items():
        if section == "_meta":
            continue
        sections[section] = tuple(
            parse_entry(name, spec, section=section, path=path, source_names=source_names, checked=checked)
            for name, spec in entries.items()
        )
    for required in ("default", "develop"):
        sections.setdefault(required, ())
    # After this module's checks, which name the entry: plette's residue (unknown keys) is rare.
    if not checked:
        _plette_validate(data, path)
    return Lock(
        path=path,
        content_sha256=content_sha256,
        pipfile_sha256=pipfile_hash if isinstance(pipfile_hash, str) else None,
        requires=_requires(meta.get("requires") or {}, where.at("_meta")),
        sources=sources,
        sections=sections,
    )


def _requires(table: Mapping[str, Any], where: Where) -> dict[str, str]:
    """``_meta.requires``: the two Python keys pipenv reads, bounded strings; other string values kept as text."""
    requires: dict[str, str] = {}
    for key, value in table.items():
        if key in _PYTHON_KEYS:
            requires[key] = check_str(value, f"requires.{key}", where=where, limit=VERSION_CHARS)
        elif isinstance(value, str) and len(value) <= TEXT_CHARS:
            requires[key] = value  # unknown keys are tolerated, as pipenv does
    return requires


def _check_structure(data: dict[str, Any], meta: dict[str, Any], path: Path) -> None:
    """The shape checks whose plette messages would not say where (run before plette)."""
    where = Where(path, "_meta")
    for key, kind, name in (("hash", dict, "an object"), ("requires", dict, "an object"), ("sources", list, "a list")):
        value = meta.get(key)
        if value is not None and not isinstance(value, kind):
            raise where.error(f"{key} must be {name}, not {type_name(value)}")
    if isinstance(meta.get("hash"), dict):
        opt_str(meta["hash"], "sha256", where=where, limit=NAME_CHARS)
    spec = meta.get("pipfile-spec")
    if spec is not None and (isinstance(spec, bool) or not isinstance(spec, int)):
        raise where.error(f"pipfile-spec must be a number, not {type_name(spec)}")
    for section, entries in data.items():
        if section == "_meta":
            continue
        if len(section) > NAME_CHARS:
            raise LockError(f"{path}: a section name of {len(section)} characters (at most {NAME_CHARS})")
        table_of(entries, Where(path, section), "a section (an object of packages)")
        for name in entries:
            if not name or len(name) > NAME_CHARS:
                raise LockError(f"{path}: [{section}] a package name of {len(name)} characters (1 to {NAME_CHARS})")


def _plette_validate(data: dict[str, Any], path: Path) -> None:
    """plette is the reference schema for Pipfile.lock; its messages do not say where, so a failure is
    located again entry by entry (only when it fails: the lock is read once more at most)."""
    import plette

    def fails(candidate: dict[str, Any]) -> str | None:
        try:
            plette.Lockfile({"default": {}, "develop": {}, **candidate})
        except Exception as exc:  # plette raises ValueError subclasses and TypeError
            text = str(exc)  # it quotes what it refuses: an unknown key may be long
            return text if len(text) <= 300 else text[:300] + "..."
        return None

    problem = fails(data)
    if problem is None:
        return
    for section, entries in data.items():
        for name, spec in entries.items() if section != "_meta" else ():
            found = fails({"_meta": data["_meta"], section: {name: spec}})
            if found is not None:
                raise LockError(f"{path}: [{section}] {name}: invalid Pipfile.lock entry: {found}")
    raise LockError(f"{path}: invalid Pipfile.lock: {problem}")


def _parse_source(raw: Any, path: Path, index: int) -> Source:
    where = Where(path, "_meta")
    what = f"sources[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise where.error(f"{what} needs a url")
    name = check_str(raw.get("name") or f"source{index}", f"{what}.name", where=where, limit=NAME_CHARS)
    verify = opt_bool(raw, "verify_ssl", where.at(package=what))
    url = check_url(check_str(raw["url"], f"{what}.url", where=where), f"{what}.url", where=where)
    return Source(name=name, url=url, verify_ssl=verify is not False)


def parse_entry(
    name: str,
    spec: Any,
    *,
    section: str,
    path: Path,
    source_names: set[str] | frozenset[str] = frozenset(),
    checked: bool = False,
) -> Entry:
    where = f"{path}: [{section}] {name}"
    at = Where(path, section, name)
    if not isinstance(spec, dict):
        raise at.error(f"entry must be an object, not {type_name(spec)}")
    canonical = canonicalize_name(name)
    markers = entry_markers(spec, where, check=not checked)

    version_raw = opt_str(spec, "version", where=at, limit=VERSION_CHARS)
    pinned = _parse_pin(version_raw, where, check=not checked)
    for key in _TEXT_KEYS:
        text = opt_str(spec, key, where=at)
        if text is not None and key in URL_KEYS:
            check_url(text, key, where=at)
    editable = opt_bool(spec, "editable", at)

    other_kind, other_source = _other_kind(spec)
    if other_kind:
        return _direct_entry(canonical, other_kind, section, other_source, pinned, markers, spec, at, editable)

    hashes = sha256_set(spec, "hashes", at)
    if pinned is None or not hashes:
        text = version_raw if version_raw is not None else "no version"
        reason = f"{text}, no hashes" if not hashes else text
        return OtherEntry(canonical, "unpinned", section, reason, pinned, markers)

    index = opt_str(spec, "index", where=at, limit=NAME_CHARS)
    if index is not None and source_names and index not in source_names:
        raise LockError(
            f"{where}: index {shown(index)} is not one of the lock's sources ({', '.join(sorted(source_names))})"
        )
    return LockedPackage(
        name=canonical,
        version=pinned,
        hashes=hashes,
        category=section,
        markers=markers,
        extras=_extras(spec, at),
        index=index,
    )


def _parse_pin(version: str | None, where: str, *, check: bool = True) -> str | None:
    if version is None or version == "*":
        return None
    match = _PIN.match(version)
    if not match:
        raise LockError(f"{where}: version {shown(version)} is not an exact pin '==X'")
    if not check:
        return match.group(1)
    from packaging.version import InvalidVersion, Version

    try:
        Version(match.group(1))
    except (InvalidVersion, ValueError):  # ValueError: a release number past Python's int digit limit
        raise LockError(f"{where}: version {shown(version)} is not a valid version") from None
    return match.group(1)


def entry_markers(spec: Mapping[str, Any], where: str, *, check: bool = True) -> str | None:
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
            raise LockError(f"{where}: {key} must be a string, not {type_name(value)}")
        if len(value) > MARKER_CHARS:
            raise LockError(f"{where}: {key} is {len(value)} characters long (at most {MARKER_CHARS})")
        term = value if key in ("markers", "os_markers") else f"{key} {value}"
        if check:
            _check_marker(term, key, where)
        terms.append(term)
    if len(terms) <= 1:
        return terms[0] if terms else None
    return " and ".join(f"({t})" for t in terms)


def _check_marker(markers: str, key: str, where: str) -> None:
    from packaging.markers import InvalidMarker, Marker

    what = "markers" if key == "markers" else f"{key} (a marker)"
    try:
        Marker(markers)
    except InvalidMarker as exc:
        first = (str(exc).splitlines() or ["invalid"])[0]
        raise LockError(f"{where}: invalid {what} {shown(markers)}: {first[:200]}") from None
    except RecursionError:  # packaging's parser recurses once per parenthesis
        raise LockError(f"{where}: invalid {what}: nested too deeply") from None


def _extras(spec: Mapping[str, Any], where: Where) -> tuple[str, ...]:
    if spec.get("extras") is None:
        return ()
    return tuple(sorted(canonicalize_name(e) for e in str_list(spec, "extras", where=where)))


def _direct_entry(
    name: str,
    kind: str,
    section: str,
    source: str,
    pinned: str | None,
    markers: str | None,
    spec: Mapping[str, Any],
    where: Where,
    editable: bool | None,
) -> OtherEntry:
    target = next((spec[k] for k in (*_VCS_KEYS, "path", "file") if k in spec), "")
    ref, subdirectory = spec.get("ref"), spec.get("subdirectory")
    return OtherEntry(
        name=name,
        kind=kind,
        category=section,
        source=source,
        version=pinned,
        markers=markers,
        editable=bool(editable),
        target=target,
        ref=ref or None,
        subdirectory=subdirectory or None,
        hashes=sha256_set(spec, "hashes", where),
        extras=_extras(spec, where),
    )


def _other_kind(spec: Mapping[str, Any]) -> tuple[str | None, str]:
    """The direct kind and its text (its keys' types were checked by :func:`parse_entry`)."""
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
