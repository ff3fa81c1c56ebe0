"""Index pages read compressed and bounded.

A project's simple-API page can be megabytes (botocore's JSON page lists every
file of every release): asking for ``gzip`` makes PyPI send a tenth of it,
which is most of what a status check (``store/status_fetch.py``) or a listing
costs. Downloads of artifacts never ask for it: their bytes are hashed as sent.
A page is untrusted, so both what is received and what it inflates to are
bounded (a gzip bomb is one small response).

A page refused for its size or shape is :class:`PageRefused`, a
:class:`~pipenv_sync_ext.errors.FetchError` and not a ``ValueError`` or an
``OSError``: the index client retries those (``store/index.py``), and a bomb
sent again is refused again, after which it was reported as "index
unreachable". The same page would be refused by any retry, so it is not retried.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from pipenv_sync_ext.errors import FetchError

ACCEPT_ENCODING = {"Accept-Encoding": "gzip"}
MAX_PAGE = 64 << 20  # bytes, received or inflated: far above any real index page
# JSON objects and arrays in one page: what json.loads builds is ~80 bytes each, so 64 MiB
# of "{}," would be 1.7 GB in memory. A real page holds 2-3 per file (the largest few
# hundred thousand files), so a million is far above any real one.
MAX_CONTAINERS = 1_000_000


class PageRefused(FetchError):
    """An index page too large, or shaped to cost memory or the stack: refused, never retried."""

    default_hint = "the index sent a page no real index sends: check the index URL (a broken or hostile mirror?)"


def read_page_body(response: Any, *, what: str) -> bytes:
    """The body of a page response, inflated when the server gzipped it; :class:`PageRefused` beyond
    :data:`MAX_PAGE`, ValueError for an encoding not asked for or corrupt."""
    raw: bytes = response.read(MAX_PAGE + 1)
    if len(raw) > MAX_PAGE:
        raise PageRefused(f"{what}: page larger than {MAX_PAGE >> 20} MiB; refused")
    encoding = (response.headers.get("Content-Encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise ValueError(f"{what}: page sent with Content-Encoding {encoding!r}, which was not asked for")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, MAX_PAGE + 1)
    except zlib.error as exc:
        raise ValueError(f"{what}: gzipped page is corrupt ({exc})") from None
    if len(body) > MAX_PAGE or inflater.unconsumed_tail:
        raise PageRefused(f"{what}: page inflates beyond {MAX_PAGE >> 20} MiB; refused")
    return body


def load_json_page(body: bytes) -> Any:
    """A JSON page parsed, refusing (ValueError) one whose shape would cost memory or the stack, not bytes."""
    if body.count(b"{") + body.count(b"[") > MAX_CONTAINERS:
        raise ValueError(f"page holds more than {MAX_CONTAINERS:,} JSON objects and arrays; refused")
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("page nested too deep to read; refused") from None
