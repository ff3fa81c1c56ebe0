"""Remote mirrors: ``--find-links URL`` pages and ``--index-url``/``--extra-index-url`` indexes, matched by sha256.

Decisions:

* **Order**: the store, local find-links, pip's cache (``store/gather.py``),
  then these mirrors: find-links pages first (one page for every project), then
  ``--index-url``, then each ``--extra-index-url``; then the lock's own sources,
  which stay the fallback (a mirror never replaces them). As with the lock's
  sources, the first place that lists a file the lock allows is the one used.
* **Mirrors of every source**: a package locked with ``"index": "pypi"`` is
  looked up on the mirrors too; only the lock's sha256 says which bytes are
  accepted, so the mirror's URL and file name do not matter (the same bytes
  under another name or URL are a hit).
* **A page chooses, the bytes decide**: only links whose ``#sha256=`` (or PEP
  691 ``hashes``) is one the lock allows are downloaded; a download whose bytes
  do not match is refused (nothing of it is left) and the same sha256 is asked
  of the next place. Links without a sha256 are not used: nothing but a
  download could tell what they are.
* **A find-links page is read once per run**, on the first package the store
  lacks, never on a run that needs nothing. It is not a simple index: it gives
  no project status (``store/status_fetch.py``); an index mirror does.
* **Precedence** (pip's): the command line, then ``PIP_FIND_LINKS``/
  ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``, then pip.conf. ``--index-url``
  replaces the configured index URL; find-links and extra index URLs from the
  command line come before the configured ones, which still apply.
* **Credentials** in a mirror URL (``https://user:${TOKEN}@host/``) are expanded
  and redacted like a lock source's (``store/index.py``, ``redact.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import urllib.error
from collections.abc import Callable, Sequence

from packaging.utils import canonicalize_name

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.feedback import Transfer
from pipenv_sync_ext.lock.model import LockedPackage, Source
from pipenv_sync_ext.redact import redact
from pipenv_sync_ext.store.artifact import Artifact, names_version, project_of, safe_filename
from pipenv_sync_ext.store.cas import LocalArtifact, Store
from pipenv_sync_ext.store.index import IndexClient, RemoteFile
from pipenv_sync_ext.store.listing import parse_listing, unhashed_links
from pipenv_sync_ext.store.mirrorconfig import NO_MIRRORS, Mirrors, mirror_sources
from pipenv_sync_ext.store.sources import ResolvedSource, resolve_source


class MirrorClient(IndexClient):
    """An :class:`IndexClient` that tries find-links pages and index mirrors before the lock's sources."""

    def __init__(self, sources: Sequence[Source], log: Callable[[str], None], *, mirrors: Mirrors = NO_MIRRORS) -> None:
        super().__init__(sources, log)
        self._pages = [resolve_source(s) for s in mirror_sources(mirrors.pages)]
        self._indexes = [resolve_source(s) for s in mirror_sources(mirrors.indexes)]
        self._page_files: dict[str, list[RemoteFile]] | None = None  # sha256 -> files the pages link
        self._unhashed: dict[str, list[tuple[str, str]]] = {}  # project -> (file name, page): links without a sha256
        self._page_lock = threading.Lock()
        self._only = threading.local()  # sources_for() limited to a few, while one fallback lists them
        self._wanted: dict[str, LockedPackage] = {}  # sha256 -> the package it was listed for

    def sources_for(self, package: LockedPackage) -> list[ResolvedSource]:
        only: list[ResolvedSource] | None = getattr(self._only, "sources", None)
        if only is not None:
            return list(only)
        own = super().sources_for(package)
        mirrors = [m for m in self._indexes if all(m.url.rstrip("/") != s.url.rstrip("/") for s in own)]
        return [*mirrors, *own]

    def list_files(self, package: LockedPackage) -> list[RemoteFile]:
        for digest in package.hashes:
            self._wanted.setdefault(digest, package)
        found = self._from_pages(package, self._pages)
        if self._pages and not found:
            self._say_unhashed(package)
        return [_as_locked(r, package) for r in found or super().list_files(package)]

    def download(self, remote: RemoteFile, store: Store, transfer: Transfer | None = None) -> LocalArtifact:
        """``remote``, else the same sha256 from each place after it in turn (a refused or failed download)."""
        tried: set[str] = set()
        while True:
            try:
                return super().download(remote, store, transfer)
            except FetchError as exc:
                tried.add(remote.source.url)
                package = self._wanted.get(remote.artifact.sha256)
                alternative = None if package is None else self._next_place(package, remote, tried)
                if alternative is None:
                    raise
                if "hash mismatch" in str(exc):
                    self._log(
                        f"{redact(remote.url)}: refused, its bytes are not the sha256 its page gave; "
                        f"trying {alternative.source.display}"
                    )
                else:
                    self._log(f"{exc}; trying {alternative.source.display}")
                remote = alternative

    def _next_place(self, package: LockedPackage, failed: RemoteFile, tried: set[str]) -> RemoteFile | None:
        """The same sha256 from the first place after the one that failed (pages, mirrors, the lock's sources)."""
        places = [*self._pages, *self.sources_for(package)]
        at = next((i for i, p in enumerate(places) if p.url == failed.source.url), None)
        if at is None:
            return None  # a URL the lock itself names (pylock.toml): no place comes after it
        for place in places[at + 1 :]:
            if place.url in tried:
                continue
            if place in self._pages:
                listed = self._from_pages(package, [place])
            else:
                listed = self._listed_by(package, place)
            same = [r for r in listed if r.artifact.sha256 == failed.artifact.sha256]
            if same:
                return _as_locked(same[0], package)
        return None

    def _listed_by(self, package: LockedPackage, source: ResolvedSource) -> list[RemoteFile]:
        self._only.sources = [source]
        try:
            return super().list_files(package)
        except FetchError:
            return []
        finally:
            self._only.sources = None

    def _from_pages(self, package: LockedPackage, pages: Sequence[ResolvedSource]) -> list[RemoteFile]:
        if not self._pages:
            return []
        files = self._read_pages()
        urls = {p.url for p in pages}
        found = [r for digest in sorted(package.hashes) for r in files.get(digest, []) if r.source.url in urls]
        for remote in found:
            # Refused before any download when it is not a plain wheel or sdist name (as an index page's is).
            safe_filename(remote.artifact.filename, what=f"{remote.source.display}: a file the lock allows")
        return found

    def _read_pages(self) -> dict[str, list[RemoteFile]]:
        """Every page's hashed links, read once per run (the first thread reads, the others wait for it)."""
        with self._page_lock:
            if self._page_files is None:
                files: dict[str, list[RemoteFile]] = {}
                for page in self._pages:
                    for remote in self._read_flat(page):
                        files.setdefault(remote.artifact.sha256, []).append(remote)
                self._page_files = files
            return self._page_files

    def _say_unhashed(self, package: LockedPackage) -> None:
        """A page that links the locked version without a sha256: say why it is not used (once per link)."""
        for filename, page in self._unhashed.get(canonicalize_name(package.name), []):
            if names_version(filename, package.name, package.version):
                self._log(f"{page}: {filename} has no #sha256= in its link; not used (files are matched by sha256)")

    def _read_flat(self, page: ResolvedSource) -> list[RemoteFile]:
        try:
            body, content_type, final_url = self._retrying(
                functools.partial(self._read_page, page.url, page), page.display
            )
            listing = parse_listing(body, content_type, final_url)
            if "json" not in content_type:
                for name in unhashed_links(body, final_url):
                    if (parsed := project_of(name)) is not None:
                        self._unhashed.setdefault(parsed[0], []).append((name, page.display))
        except urllib.error.HTTPError as exc:
            self._log(f"{page.display}: find-links page not read (HTTP {exc.code}); skipped")
            return []
        except (FetchError, OSError, ValueError, TypeError, AttributeError) as exc:
            self._log(f"{page.display}: find-links page not read ({redact(str(exc)) or type(exc).__name__}); skipped")
            return []
        return [RemoteFile(Artifact(digest, filename), url, page) for filename, url, digest in listing]


def _as_locked(remote: RemoteFile, package: LockedPackage) -> RemoteFile:
    """A wheel whose bytes the lock allows, named as the locked package (a mirror may serve it under any name).

    Installers check a wheel's ``.dist-info`` against its file name; the sha256 says
    these are the locked bytes, so the lock's name and version are the true ones.
    Only the compatibility tags (the last three parts) are kept from the page.
    """
    filename = remote.artifact.filename
    if not filename.endswith(".whl") or names_version(filename, package.name, package.version):
        return remote
    tags = filename.removesuffix(".whl").split("-")[-3:]
    dist = canonicalize_name(package.name).replace("-", "_")
    renamed = safe_filename(f"{dist}-{package.version}-{'-'.join(tags)}.whl", what=f"{package.name}'s wheel")
    return dataclasses.replace(remote, artifact=Artifact(remote.artifact.sha256, renamed))
