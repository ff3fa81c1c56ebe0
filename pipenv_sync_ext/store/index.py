"""Fetch what the store lacks from the lock's sources (simple API).

Only reached when an artifact is missing locally: a cached, hash-matching file
is used without asking the index at all. Speaks PEP 691 JSON when the index
offers it and PEP 503 HTML otherwise. Downloads are streamed to a staging file,
hashed while they are written, checked against the lock and only then renamed
into the store, so a partial or wrong download never enters it.

Credentials in source URLs (``https://user:${TOKEN}@host/simple``) are expanded
from the environment like pipenv does, sent as an ``Authorization`` header, and
never printed: :mod:`pipenv_sync_ext.redact` registers what is expanded, and
every output strips it. A host with no credentials in its URL gets them from ``$NETRC`` or ``~/.netrc`` when that
file has an entry for it. Every request goes through the run's one transport
(:mod:`.http`: urllib3 pools, kept alive and bounded per host; proxies from the
environment; the CA that :mod:`.tls` chooses).

Transient failures (5xx, a reset connection, a body shorter than its
``Content-Length``) are retried with exponential backoff; every attempt writes
a fresh staging file, which is removed unless the whole, hash-checked file was
renamed into the store.

A host that cannot be resolved or connected to (DNS failure, connection
refused, no route, connect timeout) is an answer for the whole run: it is not
retried, and every later request to that host (``host:port``) fails at once
with :class:`HostUnreachable`, so a dead index costs one failure, not one per
package and attempt.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import netrc
import os
import shutil
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.feedback import Transfer, locked
from pipenv_sync_ext.fsutil import local_failure
from pipenv_sync_ext.lock.model import LockedPackage, Source
from pipenv_sync_ext.redact import redact, register
from pipenv_sync_ext.store.artifact import Artifact, names_version, project_of, safe_filename
from pipenv_sync_ext.store.cas import LocalArtifact, Store
from pipenv_sync_ext.store.extract import MAX_UNPACKED
from pipenv_sync_ext.store.httpbody import ACCEPT_ENCODING, PageRefused, read_page_body
from pipenv_sync_ext.store.listing import parse_listing
from pipenv_sync_ext.store.pagememo import current as current_memo
from pipenv_sync_ext.store.reach import HostUnreachable
from pipenv_sync_ext.store.sources import ResolvedSource, resolve_source
from pipenv_sync_ext.store.wheeltags import tags_problem

if TYPE_CHECKING:
    from pipenv_sync_ext.store.http import Page, Stream, Transport

_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_ATTEMPTS = 3
_BACKOFF = 0.2  # seconds before the 2nd attempt, doubled for each further one
_TRANSIENT = (OSError, ValueError, http.client.HTTPException)
# Bytes of one download: nothing larger is installable (a wheel unpacks to 4 GiB at most, extract.py),
# so a body that goes on (or says it will) is refused as it arrives, not left to fill the cache's disk.
MAX_DOWNLOAD = MAX_UNPACKED + (MAX_UNPACKED >> 2)
_TOO_BIG = f"bytes or more, over the {MAX_DOWNLOAD >> 30} GiB no installable artifact reaches"
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteFile:
    artifact: Artifact
    url: str  # credentials stripped
    source: ResolvedSource


def netrc_auth(host: str | None) -> str | None:
    """``Basic`` credentials for ``host`` from ``$NETRC`` or ``~/.netrc`` (as pip and requests read it)."""
    if not host:
        return None
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if entry is None:
        return None
    login, _account, password = entry
    register(password or login)  # a token may be the login when there is no password
    raw = f"{login}:{password or ''}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


class IndexClient:
    def __init__(self, sources: Sequence[Source], log: Callable[[str], None]) -> None:
        self._sources = [resolve_source(s) for s in sources]
        self._log = locked(log)  # called from download threads
        self.requests = 0
        self._netrc: dict[str, str | None] = {}
        self._dead: dict[str, str] = {}  # host:port -> why it cannot be reached
        self._dead_lock = threading.Lock()
        self._transport: Transport | None = None  # the run's, on the first request
        self._retried: set[str] = set()  # hosts whose retries were announced (once each)
        self._memo = current_memo()  # the run's pages, shared with the status check (store/pagememo.py)

    def sources_for(self, package: LockedPackage) -> list[ResolvedSource]:
        if package.index:
            return [s for s in self._sources if s.name == package.index]
        return list(self._sources)

    def _http(self) -> Transport:
        if self._transport is None:
            from pipenv_sync_ext.store.http import transport  # urllib3 and ssl only once a request is made

            self._transport = transport()
        return self._transport

    def _headers(self, url: str, source: ResolvedSource, extra: Mapping[str, str]) -> dict[str, str]:
        """What every request sends; the credentials only to their own host (see :meth:`_auth_for`)."""
        host, dead = self._known_dead(url)
        if dead is not None:
            raise HostUnreachable(host, dead)
        sent = {"User-Agent": "pipenv-sync", **extra}
        auth = self._auth_for(url, source)
        if auth:
            # urllib3 drops it when a redirect leaves the host: a CDN never sees the index's credentials.
            sent["Authorization"] = auth
        self.requests += 1
        return sent

    def _page(self, url: str, source: ResolvedSource, headers: Mapping[str, str], *, keep: bool = False) -> Page:
        """A page, read whole and bounded, over the run's kept-alive connections (``store/http.py``)."""
        sent = self._headers(url, source, {"Accept": _ACCEPT, **headers})

        def fetch() -> Page:
            return self._reaching(url, lambda: self._http().page(url, headers=sent, verify=source.verify_ssl))

        if self._memo is None:
            return fetch()
        return self._memo.page(url, verify=source.verify_ssl, fetch=fetch, keep=keep)

    def _stream(self, url: str, source: ResolvedSource) -> Stream:
        sent = self._headers(url, source, {})
        return self._reaching(url, lambda: self._http().stream(url, headers=sent, verify=source.verify_ssl))

    def _reaching(self, url: str, request: Callable[[], T]) -> T:
        """``request()``; a host it finds unreachable is remembered for the run (``store/reach.py``)."""
        from pipenv_sync_ext.store.http import CannotConnect

        try:
            return request()
        except CannotConnect as exc:
            host = self._known_dead(url)[0]
            with self._dead_lock:
                self._dead.setdefault(host, exc.reason)
            raise HostUnreachable(host, exc.reason) from None

    def _auth_for(self, url: str, source: ResolvedSource) -> str | None:
        """The source's credentials on its own host, else netrc's for the URL's host."""
        return source.auth if source.auth and _same_host(url, source.url) else self._netrc_for(url)

    def _known_dead(self, url: str) -> tuple[str, str | None]:
        """The URL's host, and why it cannot be reached when an earlier request found out."""
        host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
        with self._dead_lock:
            return host, self._dead.get(host)

    @property
    def unreachable(self) -> dict[str, str]:
        """Hosts found unreachable in this run, and why."""
        with self._dead_lock:
            return dict(self._dead)

    def _netrc_for(self, url: str) -> str | None:
        host = urllib.parse.urlsplit(url).hostname
        if host is None:
            return None
        if host not in self._netrc:
            self._netrc[host] = netrc_auth(host)
        return self._netrc[host]

    def list_files(self, package: LockedPackage) -> list[RemoteFile]:
        """Files of ``package`` that the lock allows, from each source in order."""
        found: list[RemoteFile] = []
        errors: list[str] = []
        other: list[tuple[str, str, str]] = []  # (filename, sha256, source) of this version the lock does not allow
        unreachable: HostUnreachable | None = None
        refused: list[PageRefused] = []
        for source in self.sources_for(package):
            page = source.url.rstrip("/") + f"/{package.name}/"
            try:
                body, content_type, final_url = self._retrying(
                    functools.partial(self._read_page, page, source), redact(page)
                )
            except HostUnreachable as exc:
                unreachable = unreachable or exc
                continue
            except PageRefused as exc:  # this source's page (too big, a gzip bomb): another source may serve it
                refused.append(exc)
                continue
            except FetchError as exc:  # a file:// page that cannot be read: the next source may have it
                errors.append(str(exc))
                continue
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    continue
                errors.append(f"{redact(page)}: HTTP {exc.code}")
                continue
            except _TRANSIENT as exc:
                errors.append(f"{redact(page)}: {_reason(exc)}")
                continue
            try:
                listing = parse_listing(body, content_type, final_url)
            except (ValueError, TypeError, AttributeError) as exc:
                errors.append(f"{redact(page)}: not a valid simple-API page ({type(exc).__name__})")
                continue
            for filename, url, digest in listing:
                if digest in package.hashes:
                    # A page names the file: refused here, before any download, when it is not a plain
                    # wheel or sdist file name (a percent-encoded "../", an absolute path).
                    safe_filename(filename, what=f"{redact(page)}: a file the lock allows for {package.name}")
                    found.append(RemoteFile(Artifact(digest, filename), url, source))
                elif names_version(filename, package.name, package.version):
                    other.append((filename, digest, source.display))
            if found:
                break
        if not found and refused and not other:  # said as the refusal it is, not as an unreachable index
            raise PageRefused("; ".join([*(str(r) for r in refused), *errors]))
        if not found and errors:
            raise FetchError(f"index unreachable: {'; '.join(errors)}")
        if not found and other:  # the version is there, under other digests: the lock or the index changed
            filename, digest, where = other[0]
            raise FetchError(
                f"hash mismatch for {package.name} {package.version} ({filename}): expected sha256 one of "
                f"{_short(package.hashes)}, {where} lists {digest}"
            )
        if not found and unreachable is not None:
            raise unreachable
        return found

    def read_conditional(
        self, url: str, source: ResolvedSource, validators: dict[str, str], *, keep: bool = False
    ) -> Page:
        """The open response to a page request with ``If-None-Match``/``If-Modified-Since``; a 304 raises
        ``HTTPError`` (code 304), as urllib does. Not retried: a status check falls back to its cache.
        ``keep``: a listing will want the page too (``store/pagememo.py``)."""
        return self._page(url, source, {**validators, **ACCEPT_ENCODING}, keep=keep)

    def _read_page(self, url: str, source: ResolvedSource) -> tuple[bytes, str, str]:
        # keep: the status check asks every locked project's page; when the listing asks first (a slow
        # status thread), the check takes this one instead of fetching it again (store/pagememo.py).
        with self._page(url, source, ACCEPT_ENCODING, keep=True) as response:
            body = read_page_body(response, what=redact(url))
            return body, response.headers.get("Content-Type", ""), response.geturl()

    def download(self, remote: RemoteFile, store: Store, transfer: Transfer | None = None) -> LocalArtifact:
        existing = store.get(remote.artifact.sha256)
        if existing is not None and store.verify(existing):
            return existing

        def attempt() -> LocalArtifact:
            staging, dest = store.staging_file(remote.artifact.filename)
            # Written under a name of our own until its hash is checked; only then does it take the
            # page's (checked) file name, inside the directory named by its sha256.
            part = staging / ".download"
            try:
                h = hashlib.sha256()
                with self._stream(remote.url, remote.source) as response, part.open("wb") as out:
                    expected = _content_length(response)
                    if expected is not None and expected > MAX_DOWNLOAD:
                        raise _HashMismatch(f"{redact(remote.url)}: refused, it is {expected:,} {_TOO_BIG}")
                    if transfer is not None:
                        transfer.start(expected)
                    received = 0
                    while chunk := response.read(1 << 16):
                        h.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
                        if received > MAX_DOWNLOAD:  # an endless body would fill the cache's disk
                            raise _HashMismatch(f"{redact(remote.url)}: refused, it is {received:,} {_TOO_BIG}")
                        if transfer is not None:
                            transfer.advance(len(chunk))
                    if expected is not None and received != expected:
                        # http.client returns a short body without an error when the peer
                        # closes early: a dropped connection, to be retried.
                        raise _Truncated(f"connection closed after {received} of {expected} bytes")
                    out.flush()
                    os.fsync(out.fileno())
                if h.hexdigest() != remote.artifact.sha256:
                    name, version = project_of(remote.artifact.filename) or (remote.artifact.filename, "?")
                    raise _HashMismatch(
                        f"hash mismatch for {name} {version} ({remote.artifact.filename}, downloaded): "
                        f"expected sha256 {remote.artifact.sha256[:16]}..., computed {h.hexdigest()}"
                    )
                if (wrong := tags_problem(part, remote.artifact.filename)) is not None:
                    # the page named these (allowed) bytes for another platform: never stored under that name
                    raise _HashMismatch(f"{redact(remote.url)}: refused, {wrong} ({remote.artifact.filename})")
                os.rename(part, dest)
                return store.commit(staging, remote.artifact.sha256)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

        try:
            return self._retrying(attempt, redact(remote.url))
        except _HashMismatch as exc:
            raise FetchError(str(exc)) from None
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{redact(remote.url)}: HTTP {exc.code}") from None
        except _TRANSIENT as exc:
            raise FetchError(f"{redact(remote.url)}: {_reason(exc)}") from None

    def _retrying(self, action: Callable[[], T], what: str) -> T:
        """``action``, again after a transient (network) failure; a local OSError fails at once, saying what to free."""
        for attempt in range(_ATTEMPTS):
            try:
                return action()
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == _ATTEMPTS - 1:
                    raise
                reason = f"HTTP {exc.code}"
            except _HashMismatch:
                raise
            except _TRANSIENT as exc:
                if (local := local_failure(exc, what=what)) is not None:
                    # A full disk or a read-only store is not a network error: retrying only fills it again.
                    raise FetchError(local) from None
                if attempt == _ATTEMPTS - 1:
                    raise
                reason = _reason(exc)
            delay = _BACKOFF * 2**attempt
            # One line per host, not per file and attempt: a flaky index would otherwise print one per request.
            host = urllib.parse.urlsplit(what).netloc or what
            with self._dead_lock:
                first = host not in self._retried
                self._retried.add(host)
            if first:
                self._log(f"{host}: {reason}; retrying (up to {_ATTEMPTS} attempts a request; not said again)")
            time.sleep(delay)
        raise AssertionError("unreachable")


class _HashMismatch(Exception):
    pass


class _Truncated(OSError):
    pass


def _content_length(response: Any) -> int | None:
    try:
        value = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _short(digests: frozenset[str], limit: int = 2) -> str:
    shown = ", ".join(f"{d[:16]}..." for d in sorted(digests)[:limit])
    return shown + (f" (and {len(digests) - limit} more)" if len(digests) > limit else "")


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _same_host(a: str, b: str) -> bool:
    return urllib.parse.urlsplit(a).netloc == urllib.parse.urlsplit(b).netloc
