"""``--pypi-mirror`` / ``PIPENV_PYPI_MIRROR``: the lock's pypi.org sources replaced, as pipenv does.

pipenv (``utils/indexes.py: get_source_list``) replaces every source whose URL
is PyPI's simple index (its ``is_pypi_url``: ``http(s)://pypi.org/simple`` or
``pypi.python.org``, optional trailing slash, case-sensitive, nothing else)
by the mirror, *keeping the source's name*, so lock entries with
``"index": "pypi"`` are fetched from the mirror too. Other sources are left
as they are. ``verify_ssl`` becomes what pipenv's ``create_mirror_source``
sets: true for ``https://`` and ``file://``, false otherwise.

The mirror changes where bytes come from, never which bytes are accepted:
the lock's sha256 hashes still decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from pipenv_sync_ext.errors import EXIT_USAGE, SyncError
from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.redact import register_url

#: pipenv's ``is_pypi_url``, character for character.
PYPI_URL = re.compile(r"^http[s]?:\/\/pypi(?:\.python)?\.org\/simple[\/]?$")


class MirrorError(SyncError):
    """The mirror is not a URL: a command-line (or environment) mistake."""

    exit_code = EXIT_USAGE


def is_pypi_url(url: str) -> bool:
    return PYPI_URL.match(url) is not None


def check_mirror(url: str) -> str:
    """The mirror URL when pipenv would accept it (``is_valid_url``), else a one-line error.

    Its password is registered for redaction first: the mirror names itself in messages.
    """
    register_url(url)
    parts = urlsplit(url)
    valid = bool(parts.path) if parts.scheme == "file" else bool(parts.scheme and parts.netloc)
    if not valid:
        raise MirrorError(
            f"--pypi-mirror (PIPENV_PYPI_MIRROR) {url!r}: not a URL",
            hint="give the mirror's simple index, e.g. https://mirror.example/simple",
        )
    return url


def with_mirror(sources: Iterable[Source], mirror: str | None) -> tuple[Source, ...]:
    """``sources`` with each pypi.org one pointed at ``mirror`` (same name); unchanged without a mirror."""
    if not mirror:
        return tuple(sources)
    check_mirror(mirror)
    verify = mirror.startswith(("https://", "file://"))
    return tuple(Source(s.name, mirror, verify) if is_pypi_url(s.url) else s for s in sources)
