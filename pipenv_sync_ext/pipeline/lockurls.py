"""The index client of a run: remote mirrors, the lock's sources, then the URLs the lock itself names (pylock.toml).

A pylock.toml written by ``uv pip compile`` or ``pip lock`` may name no index
at all, only each file's URL. Such a URL is one more place to look, never a
trusted one: it is asked only when no source lists a file the lock allows,
and what it returns is checked against the lock's sha256 like any download
(:meth:`~pipenv_sync_ext.store.index.IndexClient.download`). The store, the
find-links directories and pip's cache answer before any of them.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.lock.model import Lock, LockedPackage, Source
from pipenv_sync_ext.store.artifact import Artifact
from pipenv_sync_ext.store.index import IndexClient, RemoteFile
from pipenv_sync_ext.store.mirrorconfig import NO_MIRRORS, Mirrors
from pipenv_sync_ext.store.mirrors import MirrorClient
from pipenv_sync_ext.store.sources import ResolvedSource


class LockURLClient(MirrorClient):
    def __init__(
        self,
        sources: Sequence[Source],
        log: Callable[[str], None],
        urls: Mapping[str, tuple[str, str]],
        *,
        mirrors: Mirrors = NO_MIRRORS,
    ):
        super().__init__(sources, log, mirrors=mirrors)
        self._urls = urls

    def list_files(self, package: LockedPackage) -> list[RemoteFile]:
        direct = [
            RemoteFile(Artifact(digest, filename), url, _url_source(url))
            for digest in sorted(package.hashes)
            if (found := self._urls.get(digest)) is not None
            for filename, url in [found]
        ]
        if not direct:
            return super().list_files(package)
        try:
            listed = super().list_files(package) if self.sources_for(package) else []
        except FetchError:  # includes an unreachable host: the lock's own URLs may still answer
            listed = []
        return listed or direct


def _url_source(url: str) -> ResolvedSource:
    parts = urllib.parse.urlsplit(url)
    return ResolvedSource(name=f"{parts.scheme}://{parts.netloc}", url=url, auth=None, verify_ssl=True)


def client_for(lock: Lock, log: Callable[[str], None], *, mirrors: Mirrors = NO_MIRRORS) -> IndexClient:
    """The client a sync or fetch of ``lock`` downloads with: ``mirrors`` first (``store/mirrors.py``)."""
    if lock.urls:
        return LockURLClient(lock.sources, log, lock.urls, mirrors=mirrors)
    return MirrorClient(lock.sources, log, mirrors=mirrors) if mirrors else IndexClient(lock.sources, log)
