"""A lock source as requests see it: ``${VAR}``s expanded, credentials moved out of the URL.

Its own module, standard library only, because the status check resolves sources
offline too (to name its cache entries), and :mod:`.index` brings http.client,
email and ssl with it.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass

from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.redact import expand, redact


@dataclass(frozen=True)
class ResolvedSource:
    name: str
    url: str  # expanded, without credentials
    auth: str | None  # "Basic ..." header value
    verify_ssl: bool

    @property
    def display(self) -> str:
        return redact(self.url)


def resolve_source(source: Source) -> ResolvedSource:
    """Expand ``${VAR}``s and move ``user:password@`` into an auth header."""
    parts = urllib.parse.urlsplit(expand(source.url))  # registers what it expands: see redact.py
    auth = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        raw = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
        auth = "Basic " + base64.b64encode(raw.encode()).decode()
    url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return ResolvedSource(source.name, url, auth, source.verify_ssl)
