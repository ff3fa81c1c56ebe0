"""The lock as values: what every lock format (Pipfile.lock, pylock.toml) is read into.

Every entry becomes either a :class:`LockedPackage` (an index package pinned
with ``==`` and sha256 hashes: the only kind this engine installs from its
store) or an :class:`OtherEntry` (editable, path, file, VCS, ``"*"`` or
hash-less pins), which is kept in the plan as its own kind and never silently
dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    verify_ssl: bool = True


@dataclass(frozen=True)
class LockedPackage:
    """An index package pinned to one version and a set of allowed sha256 digests."""

    name: str  # PEP 503 canonical
    version: str
    hashes: frozenset[str]  # lower-case hex digests, without the "sha256:" prefix
    category: str
    markers: str | None = None
    extras: tuple[str, ...] = ()
    index: str | None = None


@dataclass(frozen=True)
class OtherEntry:
    """A lock entry that is not a hash-pinned index package.

    ``kind`` is one of ``editable``, ``path``, ``file``, ``vcs`` (installed
    through pip, see :mod:`~pipenv_sync_ext.install.direct`) or ``unpinned`` (``"*"``, or a pin without
    hashes: not installable from a lock alone). ``source`` is the path, URL or
    requirement text it points at, for messages.
    """

    name: str
    kind: str
    category: str
    source: str
    version: str | None = None
    markers: str | None = None
    editable: bool = False
    target: str = ""  # the path, file (path or URL) or VCS URL, as the lock has it
    ref: str | None = None  # VCS commit
    subdirectory: str | None = None
    hashes: frozenset[str] = frozenset()
    extras: tuple[str, ...] = ()


Entry = LockedPackage | OtherEntry


@dataclass(frozen=True)
class Lock:
    path: Path
    content_sha256: str  # of the file's bytes: identifies this exact lock
    pipfile_sha256: str | None  # _meta.hash.sha256: the Pipfile it was made from
    requires: Mapping[str, str]
    sources: tuple[Source, ...]
    sections: Mapping[str, tuple[Entry, ...]] = field(repr=False)
    # Directories the lock itself names artifacts in (pylock.toml's wheel and sdist ``path``s):
    # read-only places to look, matched by sha256 like --find-links, after the store.
    find_links: tuple[Path, ...] = ()
    # sha256 -> (file name, URL) of the files the lock names by URL (pylock.toml): fetched from
    # there only when no source lists them; the content is checked against the sha256 as always.
    urls: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)
