"""One explicit schema for the lock formats' files, checked before anything reads a field.

A lock is written by its author, not by this tool: every field's type and size
is checked here, so that a mutated lock is one :class:`LockError` naming the
file (and the section and package) instead of a ``TypeError``, ``ValueError`` or
``RecursionError`` deep in a later stage.

Decisions:

* **Bounded loads.** :func:`load_json` and :func:`load_toml` refuse files over
  :data:`MAX_FILE_BYTES`, numbers longer than :data:`MAX_NUMBER_CHARS` (Python's
  int conversion limit raises ``ValueError`` at 4,300 digits, and no field
  needs more than a few), nesting deeper than :data:`MAX_DEPTH` (the parsers
  recurse: 5,000 levels are a ``RecursionError``; real locks are 4 deep) and
  JSON's ``NaN``/``Infinity`` (not JSON). tomllib has no integer hook: an
  integer over Python's digit limit is its ``ValueError``, caught; a shorter one
  is an int that no field accepts.
* **Known keys typed, unknown keys tolerated**, as pipenv does: an entry may
  carry keys this tool does not read, any JSON value, within the depth limit.
* **Sizes.** Strings have a length limit per kind of field (:data:`NAME_CHARS`,
  :data:`VERSION_CHARS`, :data:`TEXT_CHARS`; markers 4,096, in
  ``pipfile_lock.MARKER_CHARS``, since packaging's marker parser recurses once
  per parenthesis); tables and lists an entry limit
  (:data:`MAX_ENTRIES`). The limits are far above any real lock (a medium
  project's lock: 80 kB, 70 packages, markers under 200 characters) and low
  enough that no later parser (packaging's markers and versions) is slow or
  overflows on them.
* **URLs are URLs.** A value with a scheme (a source's ``url``, a ``file``, a
  VCS URL) must be one urllib can split, with a numeric port: later stages split
  every URL, and a bracket left open was a ``ValueError`` there.
* **Reusable primitives.** The bounded loaders (:func:`load_json`,
  :func:`load_toml`, :func:`parse_json_bytes`, :func:`parse_toml_bytes`),
  :class:`Where` and the typed getters (:func:`check_str`, :func:`opt_str`,
  :func:`opt_bool`, :func:`str_list`, :func:`sha256_set`, :func:`table_of`,
  :func:`check_url`) are for every lock format (``pylock.toml`` too): each error
  names the file, the section or table, the package and the key, and says what
  the value must be. The Pipfile's own schema is :func:`check_pipfile`; the
  lock's is applied by ``pipfile_lock.parse_lock`` through these getters.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipenv_sync_ext.errors import LockError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 32
MAX_ENTRIES = 100_000  # packages in a section, hashes of a package, sources, ...
NAME_CHARS = 256  # package, section, source and extra names
VERSION_CHARS = 256  # a version pin, a python_version
TEXT_CHARS = 64 * 1024  # markers, URLs, paths, refs: the rest

_SHA256 = re.compile(r"^sha256:([0-9a-f]{64})$")


@dataclass(frozen=True)
class Where:
    """Where a value is, for messages: ``<file>: [<section>] <package>``."""

    path: Path
    section: str | None = None
    package: str | None = None

    def at(self, section: str | None = None, package: str | None = None) -> Where:
        return Where(self.path, section if section is not None else self.section, package)

    def __str__(self) -> str:
        text = str(self.path)
        if self.section is not None:
            text += f": [{self.section}]"
        if self.package is not None:
            text += f" {self.package}"
        return text

    def error(self, message: str) -> LockError:
        return LockError(f"{self}: {message}")


class _Refused(Exception):
    """A parse hook's refusal (a number too long, a non-finite float), turned into a LockError by the loader."""


def read_capped(path: Path, *, hint: str = "") -> bytes:
    """The file's bytes, refused over :data:`MAX_FILE_BYTES` before they are read; ``hint`` follows "not found"."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise LockError(f"{path}: not found{hint}") from None
    except IsADirectoryError:
        raise LockError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise LockError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; this is not a lock file")
    return data


def _number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number with {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return text


def _json_int(text: str) -> int:
    return int(_number(text))


def _float(text: str) -> float:
    value = float(_number(text))
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:20]} is out of range")
    return value


def _constant(text: str) -> Any:
    raise _Refused(f"{text} is not JSON")


def load_json(path: Path, *, hint: str = "") -> Any:
    """``path`` parsed as JSON within the limits of the module docstring."""
    return parse_json_bytes(read_capped(path, hint=hint), path)


def parse_json_bytes(raw: bytes, path: Path) -> Any:
    """``raw`` (the bytes of ``path``) parsed as JSON within the limits of the module docstring."""
    import json

    if len(raw) > MAX_FILE_BYTES:
        raise LockError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; this is not a lock file")
    try:
        data = json.loads(raw, parse_int=_json_int, parse_float=_float, parse_constant=_constant)
    except _Refused as exc:
        raise LockError(f"{path}: not a valid lock: {exc}") from None
    except RecursionError:
        raise LockError(f"{path}: not a valid lock: nested deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: not valid JSON: {exc}") from None
    check_depth(data, Where(path))
    return data


def load_toml(path: Path, *, what: str = "TOML file", hint: str = "") -> dict[str, Any]:
    """``path`` parsed as TOML within the limits of the module docstring; ``what`` names it in messages."""
    return parse_toml_bytes(read_capped(path, hint=hint), path, what=what)


def parse_toml_bytes(raw: bytes, path: Path, *, what: str = "TOML file") -> dict[str, Any]:
    """``raw`` (the bytes of ``path``) parsed as TOML within the limits of the module docstring."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    if len(raw) > MAX_FILE_BYTES:
        raise LockError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; this is not a {what}")
    try:
        data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"), parse_float=_float)
    except _Refused as exc:
        raise LockError(f"{path}: invalid {what}: {exc}") from None
    except RecursionError:
        raise LockError(f"{path}: invalid {what}: nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise LockError(f"{path}: invalid {what}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: an integer over Python's digit limit
        raise LockError(f"{path}: invalid {what}: {exc}") from None
    check_depth(data, Where(path))
    return data


def check_depth(data: Any, where: Where) -> None:
    """Refuse values nested deeper than :data:`MAX_DEPTH` (iteratively: the check itself cannot recurse)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise where.error(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            if len(value) > MAX_ENTRIES:
                raise where.error(f"a table with {len(value)} entries (at most {MAX_ENTRIES})")
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            if len(value) > MAX_ENTRIES:
                raise where.error(f"a list with {len(value)} items (at most {MAX_ENTRIES})")
            stack.extend((v, depth + 1) for v in value)


def shown(text: str, limit: int = 120) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters: a one-line error stays short."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def type_name(value: Any) -> str:
    """The JSON/TOML name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def table_of(value: Any, where: Where, what: str) -> Mapping[str, Any]:
    """``value`` as a table (a JSON object), else an error saying ``what`` must be one."""
    if not isinstance(value, dict):
        raise where.error(f"{what} must be a table (a JSON object), not {type_name(value)}")
    if len(value) > MAX_ENTRIES:
        raise where.error(f"{what} has {len(value)} entries (at most {MAX_ENTRIES})")
    return value


def check_str(value: Any, what: str, *, where: Where, limit: int = TEXT_CHARS) -> str:
    if not isinstance(value, str):
        raise where.error(f"{what} must be a string, not {type_name(value)}")
    if len(value) > limit:
        raise where.error(f"{what} is {len(value)} characters long (at most {limit})")
    return value


def opt_str(table: Mapping[str, Any], key: str, *, where: Where, limit: int = TEXT_CHARS) -> str | None:
    """``table[key]`` when it is a string (bounded), None when absent; ``null`` is refused as the wrong type."""
    if key not in table:
        return None
    return check_str(table[key], key, where=where, limit=limit)


def check_url(value: str, what: str, *, where: Where) -> str:
    """``value`` when urllib can take it apart (a bracketed host closed, a numeric port), else an error.

    Only values that look like URLs (``scheme://``) are checked: a ``path`` or a
    ``file`` may be a local path. Later stages split every URL (to compare, to
    authenticate, to redact); a malformed one must be the lock's error here.
    """
    if "://" not in value:
        return value
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(value)
        if "$" not in parts.netloc:  # a ${PORT} is a number only once expanded
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise where.error(f"{what} {value[:200]!r} is not a valid URL: {exc}") from None
    return value


def opt_bool(table: Mapping[str, Any], key: str, where: Where) -> bool | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, bool):
        raise where.error(f"{key} must be true or false, not {type_name(value)}")
    return value


def str_list(table: Mapping[str, Any], key: str, *, where: Where, limit: int = NAME_CHARS) -> tuple[str, ...]:
    """``table[key]`` as a list of bounded strings; absent is empty."""
    if key not in table:
        return ()
    raw = table[key]
    if not isinstance(raw, list):
        raise where.error(f"{key} must be a list of strings, not {type_name(raw)}")
    if len(raw) > MAX_ENTRIES:
        raise where.error(f"{key} has {len(raw)} items (at most {MAX_ENTRIES})")
    return tuple(check_str(item, f"{key}[{i}]", where=where, limit=limit) for i, item in enumerate(raw))


def parse_sha256(value: Any, where: Where, what: str = "hash") -> str:
    """A ``"sha256:<64 hex>"`` string's digest, lower-cased (pipenv writes lower case; upper is tolerated)."""
    match = _SHA256.match(value.strip().lower()) if isinstance(value, str) and len(value) <= 100 else None
    if not match:
        shown = repr(value) if isinstance(value, str) and len(value) <= 100 else type_name(value)
        raise where.error(f"{what} {shown} is not 'sha256:<64 hex digits>'")
    return match.group(1)


def sha256_set(table: Mapping[str, Any], key: str, where: Where) -> frozenset[str]:
    """``table[key]``: a list of ``"sha256:<64 hex>"`` strings, as digests; absent (or null) is empty."""
    raw = table.get(key)
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise where.error(f"{key} must be a list of 'sha256:<64 hex digits>' strings, not {type_name(raw)}")
    if len(raw) > MAX_ENTRIES:
        raise where.error(f"{key} has {len(raw)} items (at most {MAX_ENTRIES})")
    return frozenset(parse_sha256(h, where) for h in raw)


#: Pipfile (and lock) entry keys holding text, with their length limits; the marker keys are checked as markers.
ENTRY_TEXT_KEYS: Mapping[str, int] = {
    "version": VERSION_CHARS,
    "index": NAME_CHARS,
    **dict.fromkeys(("path", "file", "git", "hg", "svn", "bzr", "ref", "subdirectory"), TEXT_CHARS),
}
#: Entry keys whose value may be a URL (checked as one when it has a scheme).
URL_KEYS = frozenset(("path", "file", "git", "hg", "svn", "bzr"))
#: Top-level Pipfile tables that are not package categories (pipenv's NON_CATEGORY_SECTIONS, plus plette's).
PIPFILE_NOT_CATEGORIES = frozenset(("build-system", "pipenv", "requires", "scripts", "source", "pipfile"))


def check_pipfile(data: Mapping[str, Any], path: Path) -> None:
    """The Pipfile's schema: ``[[source]]``, ``[requires]``, ``[scripts]`` and each category's entries typed.

    Unknown keys of an entry, of ``[pipenv]`` and of ``[requires]`` are tolerated,
    as pipenv does; every other top-level table is a category of packages
    (pipenv's ``get_package_categories``), so it must be a table.
    """
    where = Where(path)
    sources = data.get("source", [])
    if not isinstance(sources, list):
        raise where.at("source").error(f"[[source]] must be a list of tables, not {type_name(sources)}")
    for i, source in enumerate(sources):
        at = where.at("source", f"#{i + 1}")
        table = table_of(source, at, "a [[source]]")
        check_url(check_str(table.get("url"), "url", where=at), "url", where=at)
        opt_str(table, "name", where=at, limit=NAME_CHARS)
        opt_bool(table, "verify_ssl", at)
    for name in ("requires", "pipenv", "scripts", "build-system"):
        if name in data:
            table_of(data[name], where.at(name), f"[{name}]")
    for key in ("python_version", "python_full_version"):
        opt_str(data.get("requires", {}), key, where=where.at("requires"), limit=VERSION_CHARS)
    for name, command in data.get("scripts", {}).items():
        label = check_str(name, "a script name", where=where.at("scripts"), limit=NAME_CHARS)
        if isinstance(command, list):
            str_list(data["scripts"], label, where=where.at("scripts"), limit=TEXT_CHARS)
        elif not isinstance(command, dict):  # a table is pipenv's {call = "module:function"}
            check_str(command, label, where=where.at("scripts"))
    for category, table in data.items():
        if category in PIPFILE_NOT_CATEGORIES:
            continue
        check_str(category, "a category name", where=where, limit=NAME_CHARS)
        for name, spec in table_of(table, where.at(category), f"[{category}] (a category of packages)").items():
            at = where.at(category, check_str(name, "a package name", where=where.at(category), limit=NAME_CHARS))
            if isinstance(spec, str):
                check_str(spec, "its version", where=at, limit=VERSION_CHARS)
                continue
            entry = table_of(spec, at, "an entry (a version string or a table)")
            for key, limit in ENTRY_TEXT_KEYS.items():
                text = opt_str(entry, key, where=at, limit=limit)
                if text is not None and key in URL_KEYS:
                    check_url(text, key, where=at)
            opt_bool(entry, "editable", at)
            str_list(entry, "extras", where=at)
