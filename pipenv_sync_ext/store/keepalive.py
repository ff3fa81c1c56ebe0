"""Index pages over kept-alive connections, one per thread and host.

A status check (``store/status_fetch.py``) and a listing of what to download ask
one page per locked project, from a few threads. Opened anew for each page, a
connection costs a TCP and TLS handshake, and some routes stall new connections
opened side by side: on the development machine's route to PyPI, 52 pages took
5.8 s with 8 threads opening a connection each (several stalled 5 s each) and
0.11 s with each thread keeping its one connection. So pages are asked over a
persistent ``http.client`` connection per thread and host.

Only the simple case takes this path: no proxy for the URL, a final answer
(2xx, 304, 4xx, 5xx). A redirect, a proxy, or any failure of a kept connection
falls back to :mod:`urllib` (``IndexClient._open``), which follows redirects
(dropping credentials across hosts), knows proxies and says why a host cannot be
reached. Bodies are read whole but bounded (:data:`~.httpbody.MAX_PAGE`); what
they inflate to is :func:`~.httpbody.read_page_body`'s to judge.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import urllib.error
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

from pipenv_sync_ext.store.httpbody import MAX_PAGE


class NotSimple(Exception):
    """The answer is a redirect (or the URL is not plain http/https): urllib must take it."""


@dataclass
class Page:
    """A page read whole: as much of urllib's response interface as the page readers use."""

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


class Connections:
    """Persistent connections, one per thread and (scheme, host, port, TLS settings)."""

    def __init__(self, *, timeout: float) -> None:
        self._timeout = timeout
        self._local = threading.local()

    def get(self, url: str, *, headers: Mapping[str, str], context: ssl.SSLContext | None) -> Page:
        """The page at ``url``; ``HTTPError`` for a final non-2xx answer (a 304 included), as urllib raises."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
            raise NotSimple(url)
        key = (parts.scheme, parts.hostname, parts.port, id(context))
        pool: dict[tuple[object, ...], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get(key)
        if conn is None:
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self._timeout, context=context)
            else:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self._timeout)
            pool[key] = conn
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            conn.request("GET", target, headers=dict(headers))
            response = conn.getresponse()
            body = response.read(MAX_PAGE + 1)
            if len(body) > MAX_PAGE or not response.isclosed():
                conn.close()  # the rest of an over-long body is never read: the connection is spent
                del pool[key]
        except BaseException:
            conn.close()
            pool.pop(key, None)
            raise
        if 300 <= response.status < 400 and response.status != 304:
            raise NotSimple(url)
        if response.status >= 300:
            raise urllib.error.HTTPError(url, response.status, response.reason, response.headers, None)
        return Page(url, response.status, response.headers, body)
