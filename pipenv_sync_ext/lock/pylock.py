"""Read a PEP 751 ``pylock.toml`` into the lock's value objects (:mod:`.model`), like Pipfile.lock.

Decisions:

* **Sections are dependency groups.** A pylock.toml has one list of packages
  whose markers say which groups and extras they are for. The lock read here
  has one section per selection a sync can ask for, each entry's marker
  evaluated for it (:mod:`.pylock_markers`): ``default`` for ``default-groups``
  (what ``pipenv sync`` installs), ``develop`` for the ``dev`` group (pipenv's
  own mapping: ``--dev`` = develop = ``'dev' in dependency_groups``) and one
  section per other name in ``dependency-groups`` (``--categories docs``
  selects the ``docs`` group). Several selected sections install the union of
  what each selects: a marker that needs two groups at once (``'a' in
  dependency_groups and 'b' in dependency_groups``) holds for neither alone.
  ``extras`` is empty: ``pipenv sync`` selects none.
* **Artifacts by sha256 only.** Every wheel's and the sdist's sha256 is an
  allowed hash of the package; a file's ``url`` or ``path`` is only one more
  place to look. ``path``s (relative to the lock's directory) become
  read-only find-links directories (:attr:`Lock.find_links`), so a copy is
  hashed before use and the store answers first. ``index`` URLs become the
  lock's sources. A file with no sha256 (another algorithm only) cannot be
  checked here: a package with none is "unpinned" (listed, never installed).
* ``directory`` (editable or not), ``vcs`` and ``archive`` are direct entries
  installed through pip, like Pipfile.lock's path/VCS/file entries.
* Top-level ``requires-python`` and ``environments`` become the lock's
  ``requires`` (keys ``requires-python``, ``environments``), checked against
  the target by :func:`~pipenv_sync_ext.target.drift.requires_mismatch`. A
  package's own ``requires-python`` is validated, not used to select: its
  marker does that.
* Bounded: at most :data:`MAX_BYTES`, UTF-8; a nesting too deep for
  ``tomllib`` is a :class:`LockError` like any other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.model import Entry, Lock, LockedPackage, OtherEntry, Source
from pipenv_sync_ext.lock.pylock_fields import Table
from pipenv_sync_ext.lock.pylock_markers import SelectionMarkerError, for_selection

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_BYTES = 64 * 1024 * 1024
# The largest wheels on PyPI are a few GiB (CUDA builds); a size past this is a typo or an attack on a
# reader that trusts it (PEP 751 `size` is advisory here: the bytes are checked against the hash).
MAX_FILE_SIZE = 64 * 2**30
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
DEV_GROUP = "dev"  # pipenv: [dev-packages] = develop = the "dev" dependency group


def load_pylock(path: Path) -> Lock:
    """Parse and validate ``path``; raise :class:`LockError` naming what is wrong."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise LockError(f"{path}: not found") from None
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise LockError(f"{path}: larger than {MAX_BYTES // 2**20} MiB; not a lock this tool reads")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise LockError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise LockError(f"{path}: nested too deeply to be a lock") from None
    return parse_pylock(data, path, hashlib.sha256(raw).hexdigest())


def parse_pylock(data: Any, path: Path, content_sha256: str = "") -> Lock:
    top = Table(data, str(path))
    version = top.string("lock-version", required=True) or ""
    if version.split(".")[0] != "1":
        raise LockError(f"{path}: lock-version {version!r} is not 1.x; this tool reads PEP 751 lock-version 1.0")
    top.string("created-by")
    requires: dict[str, str] = {}
    python = top.string("requires-python")
    if python is not None:
        _specifier(python, f"{path}: requires-python")
        requires["requires-python"] = python
    environments = top.strings("environments")
    for i, marker in enumerate(environments):
        _marker(marker, f"{path}: environments[{i}]")
    if environments:
        requires["environments"] = " or ".join(f"({m})" for m in environments)
    groups = [_name(g, f"{path}: dependency-groups") for g in top.strings("dependency-groups")]
    defaults = frozenset(_name(g, f"{path}: default-groups") for g in top.strings("default-groups"))
    for extra in top.strings("extras"):
        _name(extra, f"{path}: extras")

    base = path.parent
    sources: dict[str, Source] = {}
    places = _Places()
    read = [_read_package(t, base, sources, places) for t in top.tables("packages")]
    _refuse_twins(read)
    selections = {"default": defaults, "develop": frozenset({DEV_GROUP})}
    selections.update({g: frozenset({g}) for g in groups if g != DEV_GROUP and g not in selections})
    sections = {
        section: tuple(e for p in read if (e := _for_selection(p, section, chosen)) is not None)
        for section, chosen in selections.items()
    }
    return Lock(
        path=path,
        content_sha256=content_sha256,
        pipfile_sha256=None,  # a pylock.toml records no Pipfile hash: freshness cannot be told
        requires=requires,
        sources=tuple(sources.values()),
        sections=sections,
        find_links=tuple(places.find_links),
        urls=places.urls,
    )


class _Places:
    """Where the lock itself says its files are: directories (``path``) and URLs, by sha256."""

    def __init__(self) -> None:
        self.find_links: dict[Path, None] = {}
        self.urls: dict[str, tuple[str, str]] = {}

    def add(self, digest: str | None, f: Table, local: Path | None) -> None:
        if local is not None:
            self.find_links.setdefault(local.parent)
        url = f.string("url")
        if digest is not None and url is not None and not url.startswith("file:"):
            filename = f.string("name") or os.path.basename(urllib.parse.urlsplit(url).path)
            self.urls.setdefault(digest, (filename, url))


def _refuse_twins(read: list[tuple[Entry, str | None, str]]) -> None:
    """Two entries of one name with the same marker (or none) cannot both apply: refuse the lock.

    PEP 751 tells entries of one name apart by their markers. With the same
    marker, a sync would have to pick one, and which pin wins would be an accident
    of file order; an installer that picked the other would build a different
    venv from the same lock. So it is a broken lock, said at parse time.
    """
    seen: dict[tuple[str, str | None], str] = {}
    for entry, marker, where in read:
        key = (entry.name, " ".join(marker.split()) if marker is not None else None)
        first = seen.setdefault(key, where)
        if first != where:
            said = f"the same marker {marker!r:.80}" if marker is not None else "no marker"
            raise LockError(
                f"{where}: a second entry for {entry.name!r} with {said} (first: {first.split(' (')[0]}); "
                "PEP 751 entries of one name are told apart by their markers",
                hint="lock again with the tool that wrote it (e.g. `pipenv lock`, `uv export --format pylock.toml`)",
            )


def _for_selection(read: tuple[Entry, str | None, str], section: str, groups: frozenset[str]) -> Entry | None:
    entry, marker, where = read
    residual: str | bool | None = marker
    if marker is not None:
        try:
            residual = for_selection(marker, groups=groups, extras=frozenset())
        except SelectionMarkerError as exc:
            raise LockError(f"{where}: marker {marker!r}: {exc}") from None
    if residual is False:
        return None
    assert residual is not True
    return _with(entry, category=section, markers=residual)


def _with(entry: Entry, *, category: str, markers: str | None) -> Entry:
    return dataclasses.replace(entry, category=category, markers=markers)


def _read_package(t: Table, base: Path, sources: dict[str, Source], places: _Places) -> tuple[Entry, str | None, str]:
    raw_name = t.string("name", required=True) or ""
    where = f"{t.where} ({raw_name})"
    name = canonicalize_name(_name(raw_name, f"{where}: name"))
    t = Table(t.data, where)
    version = t.string("version")
    if version is not None:
        _version(version, f"{where}: version")
    marker = t.string("marker")
    if marker is not None:
        _marker(marker, f"{where}: marker")
    package_python = t.string("requires-python")
    if package_python is not None:
        _specifier(package_python, f"{where}: requires-python")
    kinds = [k for k in ("vcs", "directory", "archive") if t.has(k)]
    if t.has("wheels") or t.has("sdist"):
        kinds.append("wheels/sdist")
    if len(kinds) > 1:
        raise LockError(f"{where}: has {' and '.join(kinds)}; PEP 751 allows only one kind of source per package")
    index = t.string("index")
    if index is not None:
        _url(index, f"{where}: index")
        sources.setdefault(index, Source(name=index, url=index))
    placeholder = "default"  # the section is set per selection by _for_selection
    if kinds and kinds[0] != "wheels/sdist":
        return _direct(t, name, version, kinds[0], base), marker, where
    hashes: set[str] = set()
    files = [*t.tables("wheels"), *([s] if (s := t.table("sdist")) is not None else [])]
    for f in files:
        digest, local = _file(f, base)
        if digest is not None:
            hashes.add(digest)
        places.add(digest, f, local)
        if version is None:
            version = _version_of_file(f, name)
    if version is None or not hashes:
        reason = "no version" if version is None else "no sha256 hash for any file"
        return OtherEntry(name, "unpinned", placeholder, reason, version, marker), marker, where
    package = LockedPackage(
        name=name, version=version, hashes=frozenset(hashes), category=placeholder, markers=marker, index=index
    )
    return package, marker, where


def _file(f: Table, base: Path) -> tuple[str | None, Path | None]:
    """The file's sha256 (None without one) and its local path, when the lock names one."""
    f.string("name")
    url, path = f.string("url"), f.string("path")
    if url is None and path is None:
        raise LockError(f"{f.where}: needs a url or a path")
    size = f.integer("size")
    if size is not None and size > MAX_FILE_SIZE:
        raise LockError(f"{f.where}: size {size} is more than {MAX_FILE_SIZE // 2**30} GiB; not a file a lock pins")
    hashes = f.table("hashes")
    if hashes is None or not hashes.data:
        raise LockError(f"{f.where}: hashes is missing (PEP 751 requires at least one)")
    digest = hashes.string("sha256")
    if digest is not None and not _HEX64.match(digest.lower()):
        raise LockError(f"{f.where}: hashes.sha256 {digest!r:.80} is not 64 hex digits")
    local = _local_path(path, base) if path is not None else None
    if local is None and url is not None:
        _url(url, f"{f.where}: url")
        if url.startswith("file:"):
            local = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    return (digest.lower() if digest else None), local


def _local_path(path: str, base: Path) -> Path:
    # Read-only: the bytes are hashed before use, so a path outside the project only costs a lookup.
    return Path(os.path.normpath(base / path))


def _version_of_file(f: Table, name: str) -> str | None:
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    filename = f.string("name") or os.path.basename(
        urllib.parse.urlsplit(f.string("url") or f.string("path") or "").path
    )
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _direct(t: Table, name: str, version: str | None, kind: str, base: Path) -> OtherEntry:
    spec = t.table(kind)
    assert spec is not None
    subdirectory = spec.string("subdirectory")
    if kind == "directory":
        raw = spec.string("path", required=True) or ""
        editable = spec.boolean("editable")
        target = str(_local_path(raw, base))
        kind_name = "editable" if editable else "path"
        return OtherEntry(
            name, kind_name, "default", raw, version, editable=editable, target=target, subdirectory=subdirectory
        )
    url, path = spec.string("url"), spec.string("path")
    if url is None and path is None:
        raise LockError(f"{spec.where}: needs a url or a path")
    if url is not None:
        _url(url, f"{spec.where}: url")
    location = url if url is not None else _local_path(path or "", base).as_uri()
    if kind == "vcs":
        vcs = spec.string("type", required=True) or ""
        if vcs not in ("git", "hg", "svn", "bzr"):
            raise LockError(f"{spec.where}: type {vcs!r} is not git, hg, svn or bzr")
        commit = spec.string("commit-id", required=True)
        spec.string("requested-revision")
        return OtherEntry(
            name, "vcs", "default", f"{vcs}+{location}@{commit}", version, target=location, ref=commit,
            subdirectory=subdirectory,
        )  # fmt: skip
    digest, _ = _file(spec, base)
    hashes = frozenset({digest}) if digest else frozenset()
    target = url if url is not None else str(_local_path(path or "", base))
    return OtherEntry(name, "file", "default", target, version, target=target, hashes=hashes, subdirectory=subdirectory)


def _name(value: str, where: str) -> str:
    if not _NAME.match(value):
        raise LockError(f"{where}: {value!r:.80} is not a valid name")
    return canonicalize_name(value)


def _version(value: str, where: str) -> None:
    try:
        Version(value)
    except InvalidVersion:
        raise LockError(f"{where}: {value!r:.80} is not a valid version") from None


def _specifier(value: str, where: str) -> None:
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise LockError(f"{where}: {value!r:.80} is not a version specifier such as '>=3.9'") from None


def _marker(value: str, where: str) -> None:
    try:
        Marker(value)
    except InvalidMarker as exc:
        first = (str(exc).splitlines() or ["invalid"])[0]
        raise LockError(f"{where}: invalid marker {value!r:.80}: {first}") from None


def _url(value: str, where: str) -> None:
    scheme = urllib.parse.urlsplit(value).scheme
    if scheme not in ("http", "https", "file"):
        raise LockError(f"{where}: {value!r:.80} is not an http(s) or file URL")
