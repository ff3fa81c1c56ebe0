"""One redaction for every output: secrets registered where they are expanded, userinfo wherever it is.

Decisions:

* **Registered, not guessed.** A secret is known where it enters the process:
  :func:`expand` (pipenv's ``${VAR}`` expansion of source URLs) registers every
  value it substitutes, :func:`register_url` the userinfo of a URL, and the
  netrc reader its password (:func:`register`). :func:`redact` then replaces
  each registered value wherever it appears: in a path segment
  (``https://host/${TOKEN}/simple``), a query, a message of pip's; whatever
  characters it holds (``/``, ``#``, ``?``, ``@``, ``:``), since it is matched
  as a literal, never parsed out of a URL.
* **Longest first**, so a secret that contains another is replaced whole; its
  percent-encoded forms too (a URL printed by pip or urllib quotes them).
* **At least** :data:`MIN_SECRET` **characters**: a one-letter value (``${X}``
  set to ``a``) would blank every ``a`` of every line; such a value protects
  nothing anyway.
* **Userinfo is stripped by pattern** (``scheme://user:password@host``, VCS
  URLs such as ``git+https://`` included), registered or not: a lock entry or a
  pip message can hold one this process never expanded.
* **Process-wide**: the registry is a set behind a lock; values are only added
  (a sync is one short process), so nothing that was printable stops being redacted.

This module is in the base layer (stdlib only): every stage may register, the
output edge (``cli/output.py``) applies :func:`redact` to every line it writes.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

MIN_SECRET = 4
MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# pipenv's expansion of source URLs: ${VAR} (optionally quoted) and $VAR; an unset variable is left as written.
_VAR = re.compile(r"'?\$\{([^}]+)\}'?|\$([A-Za-z_][A-Za-z0-9_]*)")
# scheme://userinfo@ : the userinfo runs to the last "@" before the host's end (a raw "@" in a password).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"<>]*(?:@[^\s/?#@'\"<>]*)*@")


def register(secret: str | None) -> None:
    """Redact ``secret`` (and its percent-encoded forms) from every later output."""
    global _pattern
    if not secret or len(secret) < MIN_SECRET:
        return
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret), urllib.parse.quote_plus(secret)}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(f for f in forms if len(f) >= MIN_SECRET)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_url(url: str) -> None:
    """Register the password in ``url``'s userinfo (raw and percent-decoded); the user name when it is alone.

    A user name beside a password is not a secret (``__token__``, ``ci``), and
    registering it would blank it in every path and word of every message; alone
    (``https://<token>@host``) it is the credential.
    """
    netloc = urllib.parse.urlsplit(url).netloc if "://" in url else ""
    if "@" not in netloc:
        return
    user, has_password, password = netloc.rpartition("@")[0].partition(":")
    secret = password if has_password else user
    register(secret)
    register(urllib.parse.unquote(secret))


def expand(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with ``$VAR``/``${VAR}`` replaced from the environment, as pipenv does; each value is registered.

    In a URL, a value is percent-encoded for where it stands, so that it stays
    one piece: whole in the userinfo (a token holding ``/``, ``#``, ``?``, ``@``
    or ``:`` is still the password, and the auth header decodes it), ``/`` kept
    in the path and query, nothing encoded in the host. Left raw, such a token
    would cut the URL into pieces that no redaction recognises (``#x`` becomes
    a dropped fragment, ``ab/cd`` a host and a path). A value without those
    characters is unchanged, as pipenv expands it. A value in the host is not
    registered: messages must say which host failed.
    """
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        value = env.get(match.group(1) or match.group(2))
        if value is None:
            return match.group(0)
        part = _url_part(text, match.start())
        if part == "host":
            return value  # a host name is what a message must show; a credential is never there
        register(value)
        register(urllib.parse.unquote(value))  # how it reads once a URL's escapes are decoded (an auth header)
        encoded = urllib.parse.quote(value, safe=_SAFE[part])
        register(encoded)
        return encoded

    expanded = _VAR.sub(sub, text)
    register_url(expanded)
    return expanded


# What stays unencoded in an expanded value, by the part of the URL it stands in.
_SAFE: Mapping[str, str] = {
    "raw": "".join(chr(c) for c in range(0x21, 0x7F)),
    # "%" stays: a value already percent-encoded (as pip's docs ask) is decoded once, as it always was.
    "userinfo": "%",
    "host": "".join(chr(c) for c in range(0x21, 0x7F)),
    "path": "%/:@!$&'()*+,;=",
    "query": "%/:@!$&'()*+,;=?",
    "fragment": "".join(chr(c) for c in range(0x21, 0x7F)),
}
_URL_END_OF_AUTHORITY = re.compile(r"[/?#]")


def _url_part(template: str, offset: int) -> str:
    """Which part of the URL ``template`` (before expansion) the variable at ``offset`` is in."""
    scheme_end = template.find("://")
    if scheme_end < 0 or offset < scheme_end + 3:
        return "raw"  # not a URL: a path or a plain value, expanded as it is
    start = scheme_end + 3
    found = _URL_END_OF_AUTHORITY.search(template, start)
    authority_end = found.start() if found else len(template)
    if offset < authority_end:
        at = template.rfind("@", start, authority_end)
        return "userinfo" if offset < at else "host"
    hash_at, query_at = template.find("#", authority_end), template.find("?", authority_end)
    if 0 <= hash_at < offset:
        return "fragment"
    return "query" if 0 <= query_at < offset else "path"


def redact(text: str) -> str:
    """``text`` without any registered secret and without the userinfo of any URL."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def redact_data(data: Any) -> Any:
    """``data`` with every string (keys included) redacted: before JSON escapes a secret's ``"`` or ``\\``."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact_data(k): redact_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v) for v in data]
    return data


def forget_all() -> None:
    """Empty the registry (for tests that run several commands in one process)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None
