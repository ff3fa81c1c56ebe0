"""Index pages read compressed and bounded.

A project's simple-API page can be megabytes (botocore's JSON page lists every
file of every release): asking for ``gzip`` makes PyPI send a tenth of it,
which is most of what a status check (``store/status_fetch.py``) or a listing
costs. Downloads of artifacts never ask for it: their bytes are hashed as sent.
A page is untrusted, so both what is received and what it inflates to are
bounded (a gzip bomb is one small response).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

ACCEPT_ENCODING = {"Accept-Encoding": "gzip"}
MAX_PAGE = 64 << 20  # bytes, received or inflated: far above any real index page
# JSON objects and arrays in one page: what json.loads builds is ~80 bytes each, so 64 MiB
# of "{}," would be 1.7 GB in memory. A real page holds 2-3 per file (the largest few
# hundred thousand files), so a million is far above any real one.
MAX_CONTAINERS = 1_000_000


def read_page_body(response: Any, *, what: str) -> bytes:
    """The body of a page response, inflated when the server gzipped it; ValueError beyond :data:`MAX_PAGE`."""
    raw: bytes = response.read(MAX_PAGE + 1)
    if len(raw) > MAX_PAGE:
        raise ValueError(f"{what}: page larger than {MAX_PAGE >> 20} MiB; refused")
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
        raise ValueError(f"{what}: page inflates beyond {MAX_PAGE >> 20} MiB; refused")
    return body


def load_json_page(body: bytes) -> Any:
    """A JSON page parsed, refusing (ValueError) one whose shape would cost memory or the stack, not bytes."""
    if body.count(b"{") + body.count(b"[") > MAX_CONTAINERS:
        raise ValueError(f"page holds more than {MAX_CONTAINERS:,} JSON objects and arrays; refused")
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("page nested too deep to read; refused") from None
