"""The HTTP transport of a run: one urllib3 pool manager per proxy and TLS setting, shared by every request.

Decisions:

* **urllib3, imported here only.** This module is loaded when a request is
  about to be made (``IndexClient`` builds its transport on first use), so a
  no-op sync, which never asks an index, imports neither urllib3 nor ssl.
* **Connection pools per host, bounded and blocking**: at most
  :data:`MAX_PER_HOST` connections to one host (scheme, host, port) for the
  whole run, whatever the number of threads (downloads, listings and a status
  check share them); a thread that finds them all busy waits for one. Every
  connection is kept alive between requests, pages and downloads alike: on the
  development machine's route to PyPI, new connections opened side by side
  stalled 5 s each, kept ones answered in 20-60 ms.
* **Redirects** are followed (at most :data:`_REDIRECTS`); urllib3 drops
  ``Authorization`` and ``Proxy-Authorization`` when a redirect leaves the
  host, so the index's credentials never reach a CDN.
* **No retries here, except one**: a failure is reported at once and
  ``IndexClient`` applies its policy (transient failures retried with backoff,
  a host that cannot be connected to remembered for the run). The exception is
  a page whose request dies before any answer: the kept-alive connection may
  have been closed by the server meanwhile, so it is asked once more on a fresh
  one (what ``keepalive.py`` did by falling back to urllib).
* **Bodies are not decoded**: a download is hashed as sent, and a page's gzip
  is inflated by :func:`~.httpbody.read_page_body`, under its bounds. A page is
  read whole, at most :data:`~.httpbody.MAX_PAGE` + 1 bytes, and its connection
  released before the caller parses it; a response that is not read to its end
  (an over-long page, an abandoned download) closes its connection rather than
  return it to the pool half-read.
* **``file://`` sources** (a mirror on a share, ``PIPENV_PYPI_MIRROR=file:///...``)
  are read from disk, as urllib did: a directory stands for its ``index.html``.
* **Errors as the callers know them**: a final answer other than 2xx raises
  :class:`urllib.error.HTTPError` (a 304 too), a host that cannot be resolved,
  connected to, or whose certificate is not trusted raises
  :class:`CannotConnect`, any other network failure :class:`NetworkError` (an
  ``OSError``, so every ``except OSError`` that handled urllib still does).
"""

from __future__ import annotations

import errno
import http.client
import mimetypes
import os
import ssl
import stat
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    InsecureRequestWarning,
    LocationValueError,
    MaxRetryError,
    ProxyError,
    SSLError,
)

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.redact import redact, register_url
from pipenv_sync_ext.store.httpbody import MAX_PAGE
from pipenv_sync_ext.store.pace import Pace
from pipenv_sync_ext.store.reach import proxy_for, unreachable_reason
from pipenv_sync_ext.store.tls import CAChoice, ca_choice

MAX_PER_HOST = 8  # connections to one host for the whole run: gather.py's download workers, no more
TIMEOUT = 30.0  # seconds to connect, and between two reads of an answer
_REDIRECTS = 10
_DRAIN = 64 << 10  # bytes of an unread answer (an error page) read to keep its connection, rather than close it
_POOLS = 32  # hosts kept at once (an index, its CDN, a mirror or two); more are opened again as needed

# verify_ssl = false is the lock's own choice (pipenv writes it): not warned about on every request.
warnings.filterwarnings("ignore", category=InsecureRequestWarning)


class CannotConnect(Exception):
    """The host could not be resolved, connected to, or its certificate is not trusted: ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NetworkError(OSError):
    """A request that failed on the way (reset, short body, read timeout): worth another attempt."""


@dataclass
class Page:
    """A page read whole (at most MAX_PAGE + 1 bytes): the part of urllib's response the page readers use."""

    url: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def read(self, amt: int | None = None) -> bytes:
        return self.body if amt is None else self.body[:amt]

    def geturl(self) -> str:
        return self.url

    def __enter__(self) -> Page:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None


class Stream:
    """A download's open response: read in chunks, its connection back to the pool when closed."""

    def __init__(self, raw: Any, url: str, *, headers: http.client.HTTPMessage | None = None) -> None:
        self._raw = raw
        self.url = url
        self._local = headers is not None  # a file:// URL: raw is an open file
        self.headers = headers if headers is not None else _message(raw.headers)
        self._pace = Pace(url)

    def read(self, amt: int | None = None) -> bytes:
        if self._local:
            return bytes(self._raw.read(amt))
        data = _read_some(self._raw, amt)
        self._pace.advance(len(data))
        return data

    def geturl(self) -> str:
        return self.url

    def close(self) -> None:
        if self._local:
            self._raw.close()
        else:
            _finish(self._raw)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class Transport:
    """Pool managers by (proxy, verify); thread-safe (urllib3's pools are)."""

    def __init__(self, *, ca: CAChoice) -> None:
        self.ca = ca
        self._managers: dict[tuple[str | None, bool], urllib3.PoolManager] = {}
        self._lock = threading.Lock()
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host) -> its proxy, decided once

    def page(self, url: str, *, headers: Mapping[str, str], verify: bool) -> Page:
        """The page at ``url``, read whole and bounded; ``HTTPError`` for a final answer other than 2xx."""
        if urllib.parse.urlsplit(url).scheme == "file":
            with _local(url) as f:
                return Page(url, 200, _local_headers(url), f.read(MAX_PAGE + 1))
        raw = self._request(url, headers=headers, verify=verify, read_retries=1)
        try:
            pace, parts, size = Pace(url), [], 0
            while size <= MAX_PAGE and (chunk := _read_some(raw, MAX_PAGE + 1 - size)):
                pace.advance(len(chunk))
                parts.append(chunk)
                size += len(chunk)
            body = b"".join(parts)
        finally:
            _finish(raw)
        return Page(_final_url(raw, url), raw.status, _message(raw.headers), body)

    def stream(self, url: str, *, headers: Mapping[str, str], verify: bool) -> Stream:
        """The open response for a download (the caller closes it); ``HTTPError`` as :meth:`page`."""
        if urllib.parse.urlsplit(url).scheme == "file":
            return Stream(_local(url), url, headers=_local_headers(url))
        raw = self._request(url, headers=headers, verify=verify, read_retries=0)
        return Stream(raw, _final_url(raw, url))

    def _request(self, url: str, *, headers: Mapping[str, str], verify: bool, read_retries: int) -> Any:
        proxy = self._proxy(url)
        manager = self._manager(proxy, verify)
        retries = urllib3.Retry(total=None, connect=0, read=read_retries, status=0, other=0, redirect=_REDIRECTS)
        try:
            raw = manager.request("GET", url, headers=dict(headers), retries=retries, preload_content=False)
        except MaxRetryError as exc:
            raise _translate(exc.reason or exc, proxy) from None
        except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
            raise _translate(exc, proxy) from None
        if 200 <= raw.status < 300:
            return raw
        _finish(raw)
        raise urllib.error.HTTPError(_final_url(raw, url), raw.status, raw.reason or "", _message(raw.headers), None)

    def _proxy(self, url: str) -> str | None:
        """The proxy for ``url``'s scheme and host, decided on the first request to it: urllib reads the
        environment (and ``no_proxy``) on every call, ~0.6 ms each, 30 ms over a status check's 46 pages."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        try:
            return self._proxies[key]
        except KeyError:
            found = self._proxies[key] = proxy_for(url)
            return found

    def _manager(self, proxy: str | None, verify: bool) -> urllib3.PoolManager:
        with self._lock:
            manager = self._managers.get((proxy, verify))
            if manager is None:
                manager = self._new_manager(proxy, verify)
                self._managers[(proxy, verify)] = manager
            return manager

    def _new_manager(self, proxy: str | None, verify: bool) -> urllib3.PoolManager:
        options: dict[str, Any] = {
            "num_pools": _POOLS,
            "maxsize": MAX_PER_HOST,
            "block": True,
            "timeout": urllib3.Timeout(connect=TIMEOUT, read=TIMEOUT),
            "ssl_context": self._context(verify),
        }
        if not verify:
            options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        if proxy is None:
            return urllib3.PoolManager(**options)
        register_url(proxy)  # its password, wherever an error or a log line repeats the URL
        parts = urllib.parse.urlsplit(proxy)
        bare = urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        proxy_headers = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            proxy_headers = urllib3.make_headers(proxy_basic_auth=f"{user}:{password}")
        if parts.scheme == "https":  # a TLS proxy is verified with the same CA choice as the index
            options["proxy_ssl_context"] = self._context(True)
        try:
            return urllib3.ProxyManager(bare, proxy_headers=proxy_headers, **options)
        except LocationValueError as exc:  # a setting to fix, not a network failure to retry
            raise CannotConnect(f"the proxy {redact(proxy)} (*_proxy variables) is not usable: {exc}") from None

    def _context(self, verify: bool) -> ssl.SSLContext:
        """One per setting: loading a CA store costs ~50-200 ms of CPU; a context is safe to share."""
        context = self._contexts.get(verify)
        if context is None:
            if verify:
                try:
                    context = ssl.create_default_context(cafile=self.ca.cafile)
                except (OSError, ssl.SSLError) as exc:
                    raise FetchError(
                        f"the CA bundle {self.ca.cafile} ({self.ca.origin}) cannot be read: "
                        f"{getattr(exc, 'strerror', None) or exc}",
                        hint=f"point {self.ca.origin} at a PEM file of CA certificates, or unset it",
                    ) from None
            else:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._contexts[verify] = context
        return context


def _read_some(raw: Any, amt: int | None) -> bytes:
    """What one receive brings (at most ``amt``), undecoded: a pace is judged on each, not on a full buffer."""
    try:
        data: bytes = raw.read1(amt, decode_content=False)
    except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
        raise NetworkError(_describe(exc)) from None
    return data


_shared: dict[CAChoice, Transport] = {}
_shared_lock = threading.Lock()


def transport() -> Transport:
    """The run's transport. A process is one run; keyed by the CA it trusts, so an environment changed
    between two uses in one process (the tests) is not answered with the first one's settings."""
    ca = ca_choice()
    with _shared_lock:
        found = _shared.get(ca)
        if found is None:
            found = _shared[ca] = Transport(ca=ca)
        return found


def _translate(exc: BaseException, proxy: str | None) -> Exception:
    """``CannotConnect`` for what another attempt would only repeat, else ``NetworkError``."""
    through = f" (through the proxy {redact(proxy)})" if proxy else ""
    if isinstance(exc, ProxyError):
        inner = exc.original_error
        why = _unreachable(inner) if isinstance(inner, BaseException) else None
        if why is not None:
            return CannotConnect(why + through)
        exc = inner if isinstance(inner, BaseException) else exc
    why = _unreachable(exc)
    if why is not None:
        return CannotConnect(why + through)
    if isinstance(exc, (SSLError, ssl.SSLError)) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return CannotConnect(_untrusted(exc))
    return NetworkError(_describe(exc) + through)


def _unreachable(exc: BaseException) -> str | None:
    """reach.py's judgement of the socket error under a failed connect (urllib3 wraps it)."""
    if not isinstance(exc, ConnectTimeoutError):  # NewConnectionError and NameResolutionError included
        return None
    why = unreachable_reason(exc.__cause__ or exc.__context__)
    if why is None and type(exc) is ConnectTimeoutError:
        return "the connection timed out"
    return why


def _untrusted(exc: BaseException) -> str:
    detail = str(exc).split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" )'\"")
    return (
        f"its TLS certificate is not trusted ({detail or 'verify failed'}); give its CA as PIP_CERT, "
        "pip.conf `cert`, REQUESTS_CA_BUNDLE or SSL_CERT_FILE"
    )


def _describe(exc: BaseException) -> str:
    short = next((a for a in (exc, *exc.args) if isinstance(a, http.client.IncompleteRead)), None)
    if short is not None and isinstance(short.partial, int) and isinstance(short.expected, int):
        # urllib3's IncompleteRead counts what was read and what is still missing
        return f"connection closed after {short.partial} of {short.partial + short.expected} bytes"
    text = str(exc) or type(exc).__name__
    return redact(text.replace("\n", " "))


def _finish(raw: Any) -> None:
    """The connection back to the pool: as it is when the answer was read to its end, else closed first."""
    if not raw.closed and raw.length_remaining is not None and raw.length_remaining <= _DRAIN:
        raw.drain_conn()  # a 304, a 404's short page: read to its end, so the connection stays alive
    if not raw.closed:
        raw.close()  # the rest of the body is never read: the connection cannot carry another request
    raw.release_conn()


def _local(url: str) -> BinaryIO:
    """A ``file://`` index or file, opened (a directory stands for its ``index.html``, as pip reads one);
    a missing one answers 404, so the next source is asked, as for an HTTP index."""
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    if path.is_dir():
        path = path / "index.html"
    try:
        # Opened without blocking and checked to be a plain file: a FIFO planted under a linked
        # name would hang the sync for ever on open, a device (/dev/zero) would never end.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise urllib.error.HTTPError(url, 404, "Not Found", http.client.HTTPMessage(), None) from None
    except OSError as exc:  # not the store's disk, nor the network: neither retried nor blamed on the cache
        raise FetchError(f"{redact(url)}: {exc.strerror or exc}", hint="make the source's files readable") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        why = os.strerror(errno.EISDIR) if stat.S_ISDIR(mode) else "not a regular file; not read"
        raise FetchError(f"{redact(url)}: {why}", hint="link only files from a file:// source")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _local_headers(url: str) -> http.client.HTTPMessage:
    message = http.client.HTTPMessage()
    path = urllib.parse.urlsplit(url).path
    ctype = "text/html" if path.endswith("/") else mimetypes.guess_type(path)[0]
    message["Content-Type"] = ctype or "application/octet-stream"
    return message


def _final_url(raw: Any, url: str) -> str:
    return str(raw.url or url) if urllib.parse.urlsplit(str(raw.url or "")).scheme else url


def _message(headers: Mapping[str, str]) -> http.client.HTTPMessage:
    message = http.client.HTTPMessage()
    for name, value in getattr(headers, "iteritems", headers.items)():
        message[name] = value
    return message
